#!/bin/sh
# Serves an eventfilter installation's webhooks with lighttpd + mod_cgi on 127.0.0.1, in the
# foreground, for the end-to-end tests and the benchmark (and as a working example config).
#
#   Tests/Support/lighttpd_webhooks.sh DIR PORT EVENTFILTER ROOT [NOW]
#
# DIR          scratch directory: gets lighttpd.conf, www/hooks.cgi and error.log
# PORT         the port on 127.0.0.1
# EVENTFILTER  the eventfilter executable
# ROOT         the installation (passed as EVENTFILTER_ROOT through mod_setenv)
# NOW          optional --now for every request (tests pin the clock)
#
# Webhooks are then POSTed to http://127.0.0.1:PORT/hooks.cgi/NAME, and one-click unsubscribe
# links are http://127.0.0.1:PORT/hooks.cgi/unsubscribe/TOKEN.
set -eu
if [ $# -lt 4 ]; then
    echo "usage: $0 DIR PORT EVENTFILTER ROOT [NOW]" >&2
    exit 2
fi
dir=$1 port=$2 eventfilter=$3 root=$4 now=${5:-}

mkdir -p "$dir/www"
# The wrapper is the CGI program: lighttpd runs it for /hooks.cgi/..., with PATH_INFO=/NAME.
{
    echo '#!/bin/sh'
    if [ -n "$now" ]; then
        echo "exec '$eventfilter' --now '$now' cgi"
    else
        echo "exec '$eventfilter' cgi"
    fi
} > "$dir/www/hooks.cgi"
chmod 755 "$dir/www/hooks.cgi"

cat > "$dir/lighttpd.conf" <<CONF
server.document-root = "$dir/www"
server.bind = "127.0.0.1"
server.port = $port
server.errorlog = "$dir/error.log"
# The CGI's stderr: eventfilter's one-line refusals, never a secret.
server.breakagelog = "$dir/cgi-stderr.log"
server.pid-file = "$dir/lighttpd.pid"
server.modules = ("mod_setenv", "mod_cgi")
# Anything ending in .cgi is executed itself (it has its own #! line).
cgi.assign = (".cgi" => "")
setenv.add-environment = ("EVENTFILTER_ROOT" => "$root")
CONF

# Run as the current user; as root lighttpd keeps root unless server.username is set, which a
# throwaway test server on loopback does not need.
exec lighttpd -D -f "$dir/lighttpd.conf"
