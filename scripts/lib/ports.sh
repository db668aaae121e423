# free_port: a loopback port for a server that cannot bind port 0 and say which port it got (PostgreSQL,
# slapd, sshd, nginx, HAProxy, the daemon under test). Another process may take the port before the server
# binds it, so a caller that can tell a failed bind retries with another (start_postgres, ldap_test.sh). The
# AWS stand-ins bind port 0 themselves and report their port (standins.sh): no race at all.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
