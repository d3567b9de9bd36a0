<?php /* #?ini charset="utf-8"?

# The demo extension adds one custom handler, "keyword": see
# extension/demo/notification/handler/keyword/keywordhandler.
[NotificationEventHandlerSettings]
ExtensionDirectories[]=demo
AvailableNotificationEventTypes[]=keyword

# A digest lists at most MaxItems items per group (handler and source), newest
# first, then "and N more" with a link to the site (1-10000; default 50).
[GeneralDigestSettings]
MaxItems=50
*/ ?>
