// Package grants says what each database account keyha and Keystone use may do, and no more, as
// SQL an operator (or the lab) runs once, as root, on one node: Galera replicates it.
package grants

import (
	"fmt"
	"strings"
)

// Account is one database user with the purpose it serves.
type Account struct {
	Role     string // monitor, admin, app, keystone
	User     string
	Password string
}

// Server is the database server the SQL is for: MariaDB (the default) or Percona XtraDB Cluster
// 8.0 (MySQL 8.0's privilege names).
type Server string

const (
	MariaDB Server = "mariadb"
	PXC     Server = "pxc"
)

// Target is where the grants go.
type Target struct {
	Galera     bool   // the nodes run Galera: without it there is no wsrep table and no writer row
	RequireSSL bool   // accounts may connect only over TLS
	Server     Server // "" is MariaDB
}

// Privileges lists, for each role, what it is granted and why (docs/deploy.md prints the same).
func Privileges(role string, t Target) []Grant {
	galera := t.Galera
	switch role {
	case "monitor": // the agent's poll, check-config, galera recover's positions
		if !galera {
			return nil // DRBD mode polls with SELECT 1: no privilege at all
		}
		return []Grant{
			{"SELECT", "mysql.wsrep_cluster_members", "the Galera view: which sites are in the Primary component"},
			{"SELECT", "keyha.*", "the designated writer (keyha.writer)"},
		}
	case "admin": // the agents' and operator's actions
		if !galera {
			return nil
		}
		if t.Server == PXC {
			// MySQL 8.0 deprecates SUPER; its dynamic privilege covers every SET GLOBAL keyha makes.
			return []Grant{
				{"SYSTEM_VARIABLES_ADMIN", "*.*", "SET GLOBAL wsrep_provider_options (evs.evict of a dead member, pc.bootstrap in recover), wsrep_desync, " +
					"wsrep_dirty_reads and read_only (island mode), pxc_maint_mode (keyha agent maint)"},
				{"SELECT, INSERT, UPDATE, CREATE", "keyha.*", "the writer row: created once, moved by the successor and by switchover"},
				{"SELECT", "mysql.wsrep_cluster_members", "the Galera view"},
			}
		}
		return []Grant{
			{"SUPER", "*.*", "SET GLOBAL wsrep_provider_options (evs.evict of a dead member, pc.bootstrap in recover), wsrep_desync and wsrep_dirty_reads (island mode)"},
			// MariaDB 10.11's SUPER no longer covers read_only.
			{"READ_ONLY ADMIN", "*.*", "SET GLOBAL read_only: island mode keeps a cut-off node from taking writes until it may again"},
			{"SELECT, INSERT, UPDATE, CREATE", "keyha.*", "the writer row: created once, moved by the successor and by switchover"},
			{"SELECT", "mysql.wsrep_cluster_members", "the Galera view"},
		}
	case "app": // keyha load run|check|bank, keyha drill
		return []Grant{
			{"SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER", "`keyha\\_%`.*", "the load harness's own schemas (keyha_load, keyha_bank)"},
			{"SELECT", "keystone.*", "keyha drill compares Keystone's tables across nodes (CHECKSUM TABLE)"},
		}
	case "keystone":
		return []Grant{{"ALL PRIVILEGES", "keystone.*", "Keystone's schema: keystone-manage db_sync alters it"}}
	}
	return nil
}

// Grant is one GRANT: what, on which objects, and why.
type Grant struct{ What, On, Why string }

// SQL returns the statements that create each account at every host pattern (or set its password
// if it exists) and grant it its privileges; with requireSSL the account may connect only over
// TLS. Passwords appear only in this SQL, meant for a pipe into the mariadb client, never a
// command line.
func SQL(accounts []Account, hosts []string, t Target) (string, error) {
	if t.Server != "" && t.Server != MariaDB && t.Server != PXC {
		return "", fmt.Errorf("server %q: keyha writes grants for mariadb or pxc (Percona XtraDB Cluster 8.0)", t.Server)
	}
	require := " REQUIRE NONE"
	if t.RequireSSL {
		require = " REQUIRE SSL"
	}
	var b strings.Builder
	b.WriteString("-- keyha: the least privileges of each account (keyha grants); run as root on one node.\n")
	for _, a := range accounts {
		if Privileges(a.Role, t) == nil && a.Role != "monitor" && a.Role != "admin" {
			return "", fmt.Errorf("account %s: no role %q; roles are monitor, admin, app, keystone", a.User, a.Role)
		}
		if a.User == "" || a.Password == "" {
			return "", fmt.Errorf("account for %s: user or password missing in its credential file", a.Role)
		}
		if a.Role == "keystone" {
			// keystone-manage db_sync fills the schema but does not create it.
			b.WriteString("CREATE DATABASE IF NOT EXISTS keystone; -- Keystone's schema, filled by keystone-manage db_sync\n")
		}
		for _, h := range hosts {
			who := quote(a.User) + "@" + quote(h)
			fmt.Fprintf(&b, "CREATE USER IF NOT EXISTS %s IDENTIFIED BY %s;\n", who, quote(a.Password))
			fmt.Fprintf(&b, "ALTER USER %s IDENTIFIED BY %s%s;\n", who, quote(a.Password), require)
			for _, g := range Privileges(a.Role, t) {
				fmt.Fprintf(&b, "GRANT %s ON %s TO %s; -- %s\n", g.What, g.On, who, g.Why)
			}
		}
	}
	return b.String(), nil
}

// quote makes s an SQL string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
