#!/usr/bin/env bash
# Usage: tests/servers/slapd.sh start DIR PORT [SERVICE] | stop DIR [SERVICE]
# (SERVICE, which a stop_command or start_command template gives as {service}, is ignored.)
# A real OpenLDAP slapd (Debian's) for the tests, laid out as Debian lays it out but in DIR (no systemd here):
# cn=config in DIR/slapd.d (made with slapadd -n 0), one mdb database in DIR/data, suffix dc=example,dc=com with
# the rootDN cn=admin,dc=example,dc=com (password: SLAPD_ADMIN_PASSWORD, default below, stored hashed). It runs
# as the system user openldap, as Debian's does, which must reach DIR; it listens on ldap://127.0.0.1:PORT and on
# the socket DIR/ldapi, where root binds by SASL EXTERNAL and manages cn=config, as on Debian, and the data too,
# without a size limit (what an online backup without a bind DN needs; Debian's own ACLs do not grant it).
# Starting a running server does nothing; a server made once keeps its data across stop and start.
set -euo pipefail
action=${1:?start or stop}
dir=${2:?the server directory}
password=${SLAPD_ADMIN_PASSWORD:-Adm1n ldap:pass}
pidfile=$dir/slapd.pid
ldapi="ldapi://${dir//\//%2F}%2Fldapi"
running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
root=dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth
root_by_socket="$root manage"
root_limits="$root size=unlimited time=unlimited"

config_ldif() {
  local hash
  hash=$(slappasswd -T <(printf %s "$password"))
  cat <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcArgsFile: $dir/slapd.args
olcPidFile: $pidfile
olcLogLevel: none

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: {0}back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/nis.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcAccess: {0}to * by $root_by_socket by * break
olcAccess: {1}to dn.exact="" by * read
olcAccess: {2}to dn.base="cn=Subschema" by * read
olcSizeLimit: 500

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by $root_by_socket by * break

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: $dir/data
olcSuffix: dc=example,dc=com
olcRootDN: cn=admin,dc=example,dc=com
olcRootPW: $hash
olcDbMaxSize: 8589934592
olcDbIndex: objectClass eq
olcDbIndex: cn,uid eq
olcLimits: {0}$root_limits
olcAccess: {0}to attrs=userPassword by $root_by_socket by self write by anonymous auth by * none
olcAccess: {1}to * by $root_by_socket by * read
EOF
}

case $action in
  start)
    port=${3:?the port}
    running && exit 0
    mkdir -p "$dir"
    chown openldap: "$dir"
    chmod 0750 "$dir"
    if [ ! -f "$dir/slapd.d/cn=config.ldif" ]; then
      rm -rf "$dir/slapd.d" "$dir/data"
      install -d -o openldap -g openldap -m 0750 "$dir/slapd.d" "$dir/data"
      config_ldif >"$dir/config.ldif"
      slapadd -n 0 -F "$dir/slapd.d" -l "$dir/config.ldif"
      rm "$dir/config.ldif"
      printf 'dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n' \
        | slapadd -n 1 -F "$dir/slapd.d"
      chown -R openldap: "$dir/slapd.d" "$dir/data"
    fi
    slapd -F "$dir/slapd.d" -h "ldap://127.0.0.1:$port/ $ldapi" -u openldap -g openldap
    for _ in $(seq 1 100); do
      if ldapsearch -Q -Y EXTERNAL -H "$ldapi" -s base -b "" 1.1 >/dev/null 2>&1; then exit 0; fi
      sleep 0.1
    done
    echo "slapd did not start on $dir (port $port)" >&2
    exit 1
    ;;
  stop)
    if running; then
      pid=$(cat "$pidfile")
      kill "$pid"
      for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
      echo "slapd did not stop" >&2
      exit 1
    fi
    ;;
  *) echo "usage: $0 start DIR PORT [SERVICE] | stop DIR [SERVICE]" >&2; exit 2 ;;
esac
