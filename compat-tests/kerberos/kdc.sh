#!/usr/bin/env bash
# Throw-away MIT Kerberos KDC on loopback, for tests.
#   kdc.sh start DIR    build realm EXAMPLE.COM in DIR, start krb5kdc, write DIR/env.sh
#   kdc.sh stop DIR     stop the KDC started in DIR (by its pid file)
#   kdc.sh selftest     start in a temp dir, kinit/klist/kvno, stop, remove
# Needs: krb5-kdc krb5-admin-server krb5-user (compat-tests/scripts/install-deps.sh installs them)
# Principals made (random keys):  zookeeper/localhost, zookeeper/127.0.0.1, zkquorum/localhost,
#   learner/localhost, learner/127.0.0.1, zkcli, bob   -> keytabs DIR/<name>.keytab (names with / become _)
set -euo pipefail

REALM=EXAMPLE.COM
SBIN=/usr/sbin   # krb5kdc, kdb5_util, kadmin.local live here on Debian

free_port() {  # a TCP port that is free now on 127.0.0.1
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir; dir=$(mkdir -p "$1" && cd "$1" && pwd)
  [ -e "$dir/principal" ] && { echo "$dir already holds a KDC database" >&2; exit 1; }
  local port; port=$(free_port)

  # Client side config: no DNS at all, TCP only, loopback KDC.
  cat >"$dir/krb5.conf" <<EOF
[libdefaults]
    default_realm = $REALM
    dns_lookup_realm = false
    dns_lookup_kdc = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
    ticket_lifetime = 24h
    renew_lifetime = 7d
    forwardable = true
    default_ccache_name = FILE:$dir/ccache
[realms]
    $REALM = {
        kdc = 127.0.0.1:$port
    }
[domain_realm]
    localhost = $REALM
    .localhost = $REALM
EOF

  # KDC side config (read through KRB5_KDC_PROFILE).
  cat >"$dir/kdc.conf" <<EOF
[kdcdefaults]
    kdc_listen = 127.0.0.1:$port
    kdc_tcp_listen = 127.0.0.1:$port
[realms]
    $REALM = {
        database_name = $dir/principal
        key_stash_file = $dir/stash
        acl_file = $dir/kadm5.acl
        max_life = 24h
        max_renewable_life = 7d
    }
[logging]
    kdc = FILE:$dir/kdc.log
    admin_server = FILE:$dir/kadmin.log
    default = FILE:$dir/krb5lib.log
EOF
  : >"$dir/kadm5.acl"

  export KRB5_CONFIG="$dir/krb5.conf" KRB5_KDC_PROFILE="$dir/kdc.conf"

  # Database with a random master password, stashed (-s) so nothing prompts.
  "$SBIN/kdb5_util" -r "$REALM" create -s -P "$(head -c 24 /dev/urandom | base64)" >/dev/null

  local p f
  for p in zookeeper/localhost zookeeper/127.0.0.1 zkquorum/localhost learner/localhost learner/127.0.0.1 zkcli bob; do
    f="$dir/${p//\//_}.keytab"
    "$SBIN/kadmin.local" -r "$REALM" -q "addprinc -randkey -clearpolicy $p@$REALM" >/dev/null
    "$SBIN/kadmin.local" -r "$REALM" -q "ktadd -norandkey -k $f $p@$REALM" >/dev/null
  done

  # krb5kdc forks into the background and writes its pid (-P). -n would keep it in the foreground.
  "$SBIN/krb5kdc" -r "$REALM" -P "$dir/kdc.pid"
  for _ in $(seq 50); do [ -s "$dir/kdc.pid" ] && break; sleep 0.1; done

  cat >"$dir/env.sh" <<EOF
export KRB5_CONFIG=$dir/krb5.conf
export KRB5_KDC_PROFILE=$dir/kdc.conf
export KRB5CCNAME=FILE:$dir/ccache
export KRB5_KDC_PORT=$port
export KRB5RCACHETYPE=none   # MIT acceptors: no replay-cache file in /var/tmp
EOF
  echo "KDC for $REALM on 127.0.0.1:$port (pid $(cat "$dir/kdc.pid")); source $dir/env.sh"
}

stop() {
  local dir=$1
  if [ -s "$dir/kdc.pid" ]; then
    local pid; pid=$(cat "$dir/kdc.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$dir/kdc.pid"
    echo "stopped KDC pid $pid"
  fi
}

selftest() {
  local dir; dir=$(mktemp -d /tmp/kdc.XXXXXX)
  trap "stop '$dir'; rm -rf '$dir'" EXIT
  start "$dir"
  # shellcheck disable=SC1091
  . "$dir/env.sh"
  kinit -kt "$dir/zkcli.keytab" "zkcli@$REALM"
  klist
  kvno "zookeeper/localhost@$REALM"      # a service ticket for the ZooKeeper server principal
  klist -k -e "$dir/zookeeper_localhost.keytab"
  kinit -kt "$dir/zookeeper_localhost.keytab" "zookeeper/localhost@$REALM"   # the server keytab works too
  klist
  kdestroy
  echo "selftest OK"
}

case "${1:-}" in
  start) start "${2:?DIR}" ;;
  stop) stop "${2:?DIR}" ;;
  selftest) selftest ;;
  *) echo "usage: $0 start DIR | stop DIR | selftest" >&2; exit 2 ;;
esac
