#!/bin/sh
# Serves an eventfilter installation's webhooks with Apache httpd + mod_cgid on 127.0.0.1, in the
# foreground, with the configuration README.md gives (ScriptAlias pointing at the binary itself),
# for the end-to-end tests.
#
#   Tests/Support/apache_webhooks.sh DIR PORT EVENTFILTER ROOT
#
# DIR          scratch directory: gets apache.conf, error.log (the CGI's stderr too), the pid
#              file and mod_cgid's socket
# PORT         the port on 127.0.0.1
# EVENTFILTER  the eventfilter executable
# ROOT         the installation (EVENTFILTER_ROOT, through SetEnv)
#
# Webhooks are then POSTed to http://127.0.0.1:PORT/hooks/NAME.
#
# Apache refuses to serve requests as root: started as root, it runs its children and the CGI
# program as nobody/nogroup (uid and gid 65534), which must then be able to write ROOT/var/.
set -eu
if [ $# -lt 4 ]; then
    echo "usage: $0 DIR PORT EVENTFILTER ROOT" >&2
    exit 2
fi
dir=$1 port=$2 eventfilter=$3 root=$4
modules=/usr/lib/apache2/modules

mkdir -p "$dir/htdocs"
if [ "$(id -u)" = 0 ]; then
    identity='User #65534
Group #65534'
else
    identity=''
fi

cat > "$dir/apache.conf" <<CONF
ServerRoot "$dir"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$dir/apache.pid"
DefaultRuntimeDir "$dir"
ScriptSock "$dir/cgid.sock"
ErrorLog "$dir/error.log"
LogLevel warn
DocumentRoot "$dir/htdocs"
$identity

LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule alias_module $modules/mod_alias.so
LoadModule env_module $modules/mod_env.so
LoadModule cgid_module $modules/mod_cgid.so

# The configuration of README.md, "With Apache".
ScriptAlias /hooks $eventfilter
<Location /hooks>
    CGIPassAuth On
    SetEnv EVENTFILTER_ROOT $root
    Require all granted
</Location>
CONF

exec /usr/sbin/apache2 -D FOREGROUND -f "$dir/apache.conf"
