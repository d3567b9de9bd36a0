/// The templates eventfilter ships with, in eZ Publish's wording where it fits. An extension
/// overrides any of them by providing `extension/<ext>/templates/<name>` (see `TemplateLibrary`).
///
/// Subjects render to one line (render them with `escapeHTML: false`); `.txt` bodies with
/// `escapeHTML: false`; `.html` bodies are fragments, rendered with `escapeHTML: true`. The
/// caller renders `footer.txt` / `footer.html` and appends them to the bodies.
///
/// Variables:
/// - `ezsubtree/*`: `site_name`, `site_url`, `class`, `name`, `url`, `author_name`, `node_id`,
///   `version`, `is_update` (bool), `parent_name` (may be empty).
/// - `ezcollaboration/*`: `site_name`, `site_url`, `identifier`, `name`, `item_id`, `url`,
///   `role`, `is_approver` (bool), `is_author` (bool; false for any other participant).
/// - `ezgeneraldigest/*`: `site_name`, `site_url`, `date`, `count`, `sections`: a list of
///   `title` and `items`, a list of `subject`, `text`, `html` (an `.html` value).
/// - `footer.*`: `site_name`, `settings_url`, `unsubscribe_url` (may be empty).
///
///     let library = TemplateLibrary(root: root, extensions: [], builtins: BuiltinTemplates.core)
public enum BuiltinTemplates {
    public static let core: [String: String] = [
        "ezsubtree/subject.txt": subtreeSubject,
        "ezsubtree/body.txt": subtreeText,
        "ezsubtree/body.html": subtreeHTML,
        "ezcollaboration/subject.txt": collaborationSubject,
        "ezcollaboration/body.txt": collaborationText,
        "ezcollaboration/body.html": collaborationHTML,
        "ezgeneraldigest/subject.txt": digestSubject,
        "ezgeneraldigest/body.txt": digestText,
        "ezgeneraldigest/body.html": digestHTML,
        "footer.txt": footerText,
        "footer.html": footerHTML,
    ]

    // MARK: Subtree (content published or updated)

    static let subtreeSubject = """
        {{class}} "{{name}}" was {{#is_update}}updated{{/is_update}}{{^is_update}}published{{/is_update}} \
        [{{site_name}}{{#parent_name}} - {{parent_name}}{{/parent_name}}]
        """

    static let subtreeText = """
        {{#is_update}}
        This email is to inform you that an updated item has been published at {{site_name}}.
        {{/is_update}}
        {{^is_update}}
        This email is to inform you that a new item has been published at {{site_name}}.
        {{/is_update}}
        The item can be viewed by using the URL below.

        {{name}}{{#author_name}} - {{author_name}}{{/author_name}}\
        {{#is_update}}{{#version}} (version {{version}}){{/version}}{{/is_update}}
        {{#parent_name}}
        {{class}} in {{parent_name}}
        {{/parent_name}}
        {{url}}

        """

    static let subtreeHTML = """
        <p>This email is to inform you that \
        {{#is_update}}an updated item{{/is_update}}{{^is_update}}a new item{{/is_update}} \
        has been published at <a href="{{site_url}}">{{site_name}}</a>.</p>
        <p>The item can be viewed by using the link below.</p>
        <p><a href="{{url}}">{{name}}</a>{{#author_name}} &ndash; {{author_name}}{{/author_name}}\
        {{#is_update}}{{#version}} (version {{version}}){{/version}}{{/is_update}}\
        {{#parent_name}}<br>
        {{class}} in {{parent_name}}{{/parent_name}}</p>

        """

    // MARK: Collaboration (approval workflow)

    static let collaborationSubject = """
        [{{site_name}}] {{#is_approver}}Approval of "{{name}}" awaits your attention{{/is_approver}}\
        {{^is_approver}}{{#is_author}}"{{name}}" awaits approval{{/is_author}}\
        {{^is_author}}New collaboration item{{/is_author}}{{/is_approver}}
        """

    static let collaborationText = """
        {{#is_approver}}
        This email is to inform you that "{{name}}" is awaiting your approval at {{site_name}}.
        You can approve or reject it by using the URL below.
        {{/is_approver}}
        {{^is_approver}}
        {{#is_author}}
        This email is to inform you that "{{name}}" has been sent for approval at {{site_name}}.
        You can follow it by using the URL below.
        {{/is_author}}
        {{^is_author}}
        This email is to inform you that a new collaboration item is awaiting your attention at {{site_name}}.
        The item can be viewed by using the URL below.
        {{/is_author}}
        {{/is_approver}}

        {{url}}

        """

    static let collaborationHTML = """
        {{#is_approver}}
        <p>This email is to inform you that &ldquo;{{name}}&rdquo; is awaiting your approval at \
        <a href="{{site_url}}">{{site_name}}</a>.</p>
        <p>You can approve or reject it by using the link below.</p>
        {{/is_approver}}
        {{^is_approver}}
        {{#is_author}}
        <p>This email is to inform you that &ldquo;{{name}}&rdquo; has been sent for approval at \
        <a href="{{site_url}}">{{site_name}}</a>.</p>
        <p>You can follow it by using the link below.</p>
        {{/is_author}}
        {{^is_author}}
        <p>This email is to inform you that a new collaboration item is awaiting your attention at \
        <a href="{{site_url}}">{{site_name}}</a>.</p>
        <p>The item can be viewed by using the link below.</p>
        {{/is_author}}
        {{/is_approver}}
        <p><a href="{{url}}">{{#name}}{{name}}{{/name}}{{^name}}{{url}}{{/name}}</a></p>

        """

    // MARK: General digest

    static let digestSubject = """
        [{{site_name}}] Digest for {{date}}
        """

    static let digestText = """
        This digest email is to inform you about new items at {{site_name}}.
        {{#count}}
        Items in this digest: {{count}}
        {{/count}}
        {{#sections}}

        == {{title}} ==
        {{#items}}

        * {{subject}}
        {{text}}
        {{/items}}
        {{/sections}}

        """

    static let digestHTML = """
        <p>This digest email is to inform you about new items at <a href="{{site_url}}">{{site_name}}</a>.</p>
        {{#count}}
        <p>Items in this digest: {{count}}</p>
        {{/count}}
        {{#sections}}
        <h2>{{title}}</h2>
        {{#items}}
        <h3>{{subject}}</h3>
        <div>{{html}}</div>
        {{/items}}
        {{/sections}}

        """

    // MARK: Footer

    /// Ends with eZ's signature; `-- ` keeps its space so mail clients recognise the separator.
    static let footerText = """

        If you do not want to continue receiving these notifications,
        change your settings at: {{settings_url}}
        {{#unsubscribe_url}}
        To stop all notifications from {{site_name}} at once, use: {{unsubscribe_url}}
        {{/unsubscribe_url}}

        --\u{20}
        {{site_name}} notification system

        """

    static let footerHTML = """
        <hr>
        <p>If you do not want to continue receiving these notifications, change your settings at \
        <a href="{{settings_url}}">{{settings_url}}</a>.\
        {{#unsubscribe_url}}<br>
        To stop all notifications from {{site_name}} at once, \
        <a href="{{unsubscribe_url}}">unsubscribe here</a>.{{/unsubscribe_url}}</p>
        <p>&mdash;<br>
        {{site_name}} notification system</p>

        """
}
