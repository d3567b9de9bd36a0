/// The built-in templates of the subscriber's settings pages. An extension overrides one by
/// shipping `extension/<ext>/templates/settings/<name>`, as with the mail templates. Every
/// `{{value}}` is HTML-escaped; the pages carry no script and work without JavaScript.
///
///     let library = TemplateLibrary(root: root, extensions: [], builtins: SettingsTemplates.all)
///     try library.template("settings/page.html").render(context, escapeHTML: true)
///
/// Variables: `site_name`; `page.html`: `name`, `email`, `csrf`, `notice`, `error`, `follows`
/// (`node`, `name`, `path`), `collaborations` (`identifier`, `label`), `immediate`, `daily`,
/// `weekly`, `monthly`, `weekdays` and `monthdays` (`value`, `label`, `selected`), `time`,
/// `zones` (`id`, `selected`), `delivery_text`; `request.html`: `notice`, `error`;
/// `follow.html`: `notice`, `error`, `confirm`, `fields` (`name`, `value`), `node`; `link.txt`: `name`, `url`.
enum SettingsTemplates {
    static let all: [String: String] = [
        "settings/page.html": page,
        "settings/request.html": request,
        "settings/follow.html": follow,
        "settings/link-subject.txt": "Your link to your notification settings",
        "settings/link.txt": linkText,
    ]

    /// Shared head: a phone-width viewport and simple CSS inline (the pages' policy allows no other source).
    static let head = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="robots" content="noindex">
        <title>Notification settings · {{site_name}}</title>
        <style>
        body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 42rem; padding: 1rem; line-height: 1.4; color: #222; }
        h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; border-bottom: 1px solid #ddd; }
        ul { list-style: none; padding: 0; } li { display: flex; justify-content: space-between; align-items: center;
          gap: .5rem; padding: .4rem 0; border-bottom: 1px solid #eee; flex-wrap: wrap; }
        .path { color: #666; font-size: .9em; } .notice { background: #e7f5e7; padding: .6rem; }
        .error { background: #fbe3e3; padding: .6rem; }
        label { display: block; margin: .4rem 0; } select, input { font-size: 1rem; max-width: 100%; }
        button { font-size: 1rem; padding: .3rem .8rem; } .danger { color: #a00; }
        </style>
        </head>
        <body>
        """

    static let page = head + """
        <h1>Notification settings for {{name}}</h1>
        <p>Mail from {{site_name}} goes to <strong>{{email}}</strong>.</p>
        {{#notice}}<p class="notice" id="notice">{{notice}}</p>{{/notice}}
        {{#error}}<p class="error" id="error">{{error}}</p>{{/error}}
        <h2>What you follow</h2>
        {{^follows}}<p>You follow nothing.</p>{{/follows}}
        <ul id="follows">
        {{#follows}}<li><span>{{#name}}<strong>{{name}}</strong>{{/name}}{{^name}}<strong>Node {{node}}</strong>{{/name}}
        {{#path}}<br><span class="path">{{path}}</span>{{/path}}</span>
        <form method="post"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="action" value="stop">
        <input type="hidden" name="node" value="{{node}}"><button type="submit" id="stop-{{node}}">Stop</button></form></li>
        {{/follows}}</ul>
        <h2>Collaboration</h2>
        {{^collaborations}}<p>You get no collaboration notifications.</p>{{/collaborations}}
        <ul id="collaborations">
        {{#collaborations}}<li><span>{{label}}</span>
        <form method="post"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="action" value="stop-collaboration">
        <input type="hidden" name="identifier" value="{{identifier}}"><button type="submit">Stop</button></form></li>
        {{/collaborations}}</ul>
        <h2>How mail reaches you</h2>
        <p id="delivery">Now: {{delivery_text}}</p>
        <form method="post" id="delivery-form">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="action" value="delivery">
        <label><input type="radio" name="delivery" value="immediate"{{#immediate}} checked{{/immediate}}> At once, one mail per change</label>
        <label><input type="radio" name="delivery" value="daily"{{#daily}} checked{{/daily}}> A daily digest</label>
        <label><input type="radio" name="delivery" value="weekly"{{#weekly}} checked{{/weekly}}> A weekly digest on
        <select name="weekday">{{#weekdays}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/weekdays}}</select></label>
        <label><input type="radio" name="delivery" value="monthly"{{#monthly}} checked{{/monthly}}> A monthly digest on day
        <select name="monthday">{{#monthdays}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/monthdays}}</select></label>
        <label>Digests arrive at <input type="time" name="time" value="{{time}}" required></label>
        <label>Your time zone <select name="timezone">{{#zones}}<option{{#selected}} selected{{/selected}}>{{id}}</option>{{/zones}}</select></label>
        <button type="submit" id="save">Save</button>
        </form>
        <h2>Stop everything</h2>
        <form method="post"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="action" value="stop-all">
        <button type="submit" class="danger" id="stop-all">Stop all mail from {{site_name}}</button></form>
        <p class="path">Keep this page to yourself: its address is your key to these settings.</p>
        </body>
        </html>
        """

    static let request = head + """
        <h1>Notification settings</h1>
        {{#notice}}<p class="notice" id="notice">{{notice}}</p>{{/notice}}
        {{#error}}<p class="error" id="error">{{error}}</p>{{/error}}
        <p>Enter your address and we mail you a link to your settings for {{site_name}}.</p>
        <form method="post">
        <label>Email <input type="email" name="email" required autocomplete="email"></label>
        <button type="submit">Mail me a link</button>
        </form>
        </body>
        </html>
        """

    static let follow = head + """
        <h1>Keep me updated</h1>
        {{#notice}}<p class="notice" id="notice">{{notice}}</p>{{/notice}}
        {{#error}}<p class="error" id="error">{{error}}</p>{{/error}}
        {{#confirm}}<form method="post">
        <p>Get mail from {{site_name}} when {{node}} changes?</p>
        {{#fields}}<input type="hidden" name="{{name}}" value="{{value}}">{{/fields}}
        <button type="submit" id="follow">Keep me updated</button>
        </form>{{/confirm}}
        </body>
        </html>
        """

    static let linkText = """
        Hello {{name}},

        here is your personal link to your notification settings at {{site_name}}:

        {{url}}

        Anyone with this link can change your settings, so keep it to yourself.
        If you did not ask for it, you can ignore this message.

        """
}
