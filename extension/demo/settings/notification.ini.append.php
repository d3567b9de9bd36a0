<?php /* #?ini charset="utf-8"?

# The demo extension adds one custom handler, "keyword": see
# extension/demo/notification/handler/keyword/keywordhandler.
[NotificationEventHandlerSettings]
ExtensionDirectories[]=demo
AvailableNotificationEventTypes[]=keyword
*/ ?>
