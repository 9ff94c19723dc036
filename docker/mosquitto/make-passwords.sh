#!/bin/sh
# Password-file recipe for the hall's Mosquitto (the accounts docker/mosquitto/acl knows).
#
#   ./make-passwords.sh init              new passwd with the accounts `queued` and `queued-pads`
#                                         (the daemon's two links, one password) and `bridge` (a pad
#                                         bridge on another host). The daemon's password goes to
#                                         ../secrets/mqtt-queued.pass (the compose secret, [mqtt]
#                                         password_file); the bridge's is printed.
#   ./make-passwords.sh add SCREEN_ID...  add (or reset) display accounts; a display's username is
#                                         its screen id (it may publish only screen/<id>/alive).
#                                         Each password is printed once: configure the device.
#
# Uses mosquitto_passwd when installed, else the eclipse-mosquitto:2 image through docker.
# Environment (for tests and other layouts): MOSQ_PASSWD_FILE, QUEUED_SECRETS_DIR.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
passwd=${MOSQ_PASSWD_FILE:-$here/passwd}
secrets=${QUEUED_SECRETS_DIR:-$here/../secrets}

newpass() { head -c 24 /dev/urandom | base64 | tr -d '/+=\n' | cut -c1-24; }

setpass() {  # setpass USER PASSWORD
    if command -v mosquitto_passwd >/dev/null 2>&1; then
        mosquitto_passwd -b "$passwd" "$1" "$2"
    else
        dir=$(cd "$(dirname "$passwd")" && pwd)
        docker run --rm -u "$(id -u):$(id -g)" -v "$dir:/work" eclipse-mosquitto:2 \
            mosquitto_passwd -b "/work/$(basename "$passwd")" "$1" "$2"
    fi
}

case "${1:-}" in
init)
    if [ -s "$passwd" ] && [ "${FORCE:-}" != 1 ]; then
        echo "$passwd exists; FORCE=1 $0 init replaces it (every device needs its new password)" >&2
        exit 1
    fi
    umask 077
    : > "$passwd"
    mkdir -p "$secrets"
    daemon_pw=$(newpass)
    bridge_pw=$(newpass)
    setpass queued "$daemon_pw"
    setpass queued-pads "$daemon_pw"
    setpass bridge "$bridge_pw"
    printf '%s\n' "$daemon_pw" > "$secrets/mqtt-queued.pass"
    # The daemon runs as uid 10001 in docker/Dockerfile and reads this file.
    if [ "$(id -u)" = 0 ]; then chown 10001:10001 "$secrets/mqtt-queued.pass"; else chmod 0644 "$secrets/mqtt-queued.pass"; fi
    echo "wrote $passwd (accounts: queued, queued-pads, bridge) and $secrets/mqtt-queued.pass"
    echo "bridge password (shown once): $bridge_pw"
    ;;
add)
    shift
    [ $# -gt 0 ] || { echo "usage: $0 add SCREEN_ID..." >&2; exit 2; }
    [ -f "$passwd" ] || { echo "no $passwd yet: run $0 init first" >&2; exit 1; }
    for id in "$@"; do
        case "$id" in
        queued|queued-pads|bridge) echo "$id is reserved (the daemon's and the bridge's accounts)" >&2; exit 2 ;;
        esac
        if ! printf '%s' "$id" | grep -Eq '^[A-Za-z0-9_-]{1,64}$'; then
            echo "$id: a screen id is 1-64 letters, digits, '-' or '_' (it is a topic level)" >&2
            exit 2
        fi
    done
    for id in "$@"; do
        pw=$(newpass)
        setpass "$id" "$pw"
        echo "display $id password (shown once): $pw"
    done
    ;;
*)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
