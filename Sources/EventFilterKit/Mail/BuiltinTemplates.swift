/// The templates eventfilter ships with, in eZ Publish's wording where it fits. An extension
/// overrides any of them by providing `extension/<ext>/templates/<name>` (see `TemplateLibrary`).
///
/// Subjects render to one line (render them with `escapeHTML: false`); `.txt` bodies with
/// `escapeHTML: false`; `.html` bodies are fragments, rendered with `escapeHTML: true`. The
/// caller renders `footer.txt` / `footer.html` and appends them to the bodies.
///
/// Variables:
/// - `ezsubtree/*`: `site_name`, `site_url`, `class`, `name`, `url`, `author_name`, `time_text`, `node_id`,
///   `version`, `is_update` (bool), `parent_name` (may be empty).
/// - `ezcollaboration/*`: `site_name`, `site_url`, `identifier`, `name`, `item_id`, `url`,
///   `role`, `is_approver` (bool), `is_author` (bool; false for any other participant).
/// - `subject-line.txt`: `site_name`, `subject` (what the base's `subject.txt` rendered): the
///   pattern every subject follows.
/// - `ezgeneraldigest/*`: `site_name`, `site_url`, `date`, `count`, `items_word`,
///   `recipient_name` (may be empty), `sections`: a list of `title`, `underline`, `items` (a list
///   of `name`, `url` (may be empty), `time_text`), `more` (the count left out, or empty) and `more_url`;
///   `other_more` (the items of the groups past the digest's budget, or empty) with `other_groups`
///   ("2 other groups") and `more_url`.
/// - `footer.*`: `site_name`, `settings_url`, `unsubscribe_url` (may be empty) with
///   `unsubscribe_subject` (what it stops), `stop_all_url` (may be empty).
/// - Times (`time_text`, `start_text`, ...) are written in each reader's time zone.
///
///     let library = TemplateLibrary(root: root, extensions: [], builtins: BuiltinTemplates.core)
public enum BuiltinTemplates {
    public static let core: [String: String] = [
        "subject-line.txt": subjectLine,
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

    // MARK: Subject line

    /// Every subject: `[SiteName] what happened`, one pattern readers can filter on.
    static let subjectLine = """
        [{{site_name}}] {{subject}}
        """

    // MARK: Subtree (content published or updated)

    static let subtreeSubject = """
        {{class}} "{{name}}" was {{#is_update}}updated{{/is_update}}{{^is_update}}published{{/is_update}}\
        {{#parent_name}} in {{parent_name}}{{/parent_name}}
        """

    static let subtreeText = """
        "{{name}}" ({{class}}) was \
        {{#is_update}}updated{{#version}} to version {{version}}{{/version}}{{/is_update}}{{^is_update}}published{{/is_update}}\
        {{#parent_name}} in {{parent_name}}{{/parent_name}}{{#author_name}} by {{author_name}}{{/author_name}}\
        {{#time_text}} on {{time_text}}{{/time_text}}.

        Read it at {{url}}

        """

    static let subtreeHTML = """
        <p>&ldquo;<a href="{{url}}">{{name}}</a>&rdquo; ({{class}}) was \
        {{#is_update}}updated{{#version}} to version {{version}}{{/version}}{{/is_update}}{{^is_update}}published{{/is_update}}\
        {{#parent_name}} in {{parent_name}}{{/parent_name}}{{#author_name}} by {{author_name}}{{/author_name}}\
        {{#time_text}} on {{time_text}}{{/time_text}}.</p>
        <p><a href="{{url}}">Read it at {{site_name}}</a></p>

        """

    // MARK: Collaboration (approval workflow)

    static let collaborationSubject = """
        {{#is_approver}}Approval of "{{name}}" awaits your attention{{/is_approver}}\
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

    /// A compact list: a heading per group, one line per item, the greeting and footer once.
    static let digestSubject = """
        Digest for {{date}}
        """

    static let digestText = """
        Hello{{#recipient_name}} {{recipient_name}}{{/recipient_name}},

        here is what happened at {{site_name}} since your last digest ({{count}} {{items_word}}).
        {{#sections}}

        {{title}}
        {{underline}}
        {{#items}}
        - {{name}}{{#time_text}} \u{2014} {{time_text}}{{/time_text}}{{#url}} \u{2014} {{url}}{{/url}}
        {{/items}}
        {{#more}}
        ... and {{more}} more: {{more_url}}
        {{/more}}
        {{/sections}}
        {{#other_more}}

        ... and {{other_more}} more in {{other_groups}}: {{more_url}}
        {{/other_more}}

        """

    static let digestHTML = """
        <p>Hello{{#recipient_name}} {{recipient_name}}{{/recipient_name}},</p>
        <p>here is what happened at <a href="{{site_url}}">{{site_name}}</a> since your last digest \
        ({{count}} {{items_word}}).</p>
        {{#sections}}
        <h2>{{title}}</h2>
        <ul>
        {{#items}}
        <li>{{#url}}<a href="{{url}}">{{name}}</a>{{/url}}{{^url}}{{name}}{{/url}}{{#time_text}} <small>{{time_text}}</small>{{/time_text}}</li>
        {{/items}}
        </ul>
        {{#more}}
        <p>&hellip; and <a href="{{more_url}}">{{more}} more</a></p>
        {{/more}}
        {{/sections}}
        {{#other_more}}
        <p>&hellip; and <a href="{{more_url}}">{{other_more}} more in {{other_groups}}</a></p>
        {{/other_more}}

        """

    // MARK: Footer

    /// Each link says what it does. Ends with eZ's signature; `-- ` keeps its space so mail
    /// clients recognise the separator.
    static let footerText = """

        Change which notifications you get: {{settings_url}}
        {{#unsubscribe_url}}
        Stop notifications about {{unsubscribe_subject}}: {{unsubscribe_url}}
        {{/unsubscribe_url}}
        {{#stop_all_url}}
        Stop all notifications from {{site_name}}: {{stop_all_url}}
        {{/stop_all_url}}

        --\u{20}
        {{site_name}} notification system

        """

    static let footerHTML = """
        <hr>
        <p><a href="{{settings_url}}">Change which notifications you get</a>\
        {{#unsubscribe_url}}<br>
        <a href="{{unsubscribe_url}}">Stop notifications about {{unsubscribe_subject}}</a>{{/unsubscribe_url}}\
        {{#stop_all_url}}<br>
        <a href="{{stop_all_url}}">Stop all notifications from {{site_name}}</a>{{/stop_all_url}}</p>
        <p>&mdash;<br>
        {{site_name}} notification system</p>

        """
}
