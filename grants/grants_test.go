package grants

import (
	"strings"
	"testing"
)

func TestSQL(t *testing.T) {
	accts := []Account{
		{Role: "monitor", User: "keyha_monitor", Password: "p'w\\x"},
		{Role: "admin", User: "keyha_admin", Password: "a"},
		{Role: "app", User: "keyha_app", Password: "b"},
	}
	got, err := SQL(accts, []string{"%", "localhost"}, Target{Galera: true, RequireSSL: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`CREATE USER IF NOT EXISTS 'keyha_monitor'@'%' IDENTIFIED BY 'p\'w\\x';`,
		`GRANT SELECT ON mysql.wsrep_cluster_members TO 'keyha_monitor'@'localhost';`,
		`GRANT SUPER ON *.* TO 'keyha_admin'@'%';`,
		`GRANT READ_ONLY ADMIN ON *.* TO 'keyha_admin'@'%';`,
		`ALTER USER 'keyha_admin'@'localhost' IDENTIFIED BY 'a' REQUIRE SSL;`,
		"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER ON `keyha\\_%`.* TO 'keyha_app'@'%';",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
	for _, never := range []string{"ALL PRIVILEGES ON *.*", "GRANT OPTION", "ALL PRIVILEGES ON keystone.*", "INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER ON keystone"} {
		if strings.Contains(got, never) {
			t.Errorf("%q granted:\n%s", never, got)
		}
	}
	if strings.Contains(got, "CREATE DATABASE") {
		t.Errorf("a schema created with no keystone account:\n%s", got)
	}
	ks, err := SQL(append(accts, Account{Role: "keystone", User: "keystone", Password: "k"}), []string{"%"}, Target{Galera: true, RequireSSL: true})
	if err != nil || !strings.Contains(ks, "CREATE DATABASE IF NOT EXISTS keystone;") || !strings.Contains(ks, "GRANT ALL PRIVILEGES ON keystone.* TO 'keystone'@'%'") {
		t.Errorf("the keystone account's schema and privileges (%v):\n%s", err, ks)
	}
	drbd, _ := SQL(accts, []string{"%"}, Target{})
	if strings.Contains(drbd, "wsrep") || strings.Contains(drbd, "SUPER") || !strings.Contains(drbd, "REQUIRE NONE") {
		t.Errorf("DRBD mode grants Galera's privileges:\n%s", drbd)
	}
	if _, err := SQL([]Account{{Role: "dba", User: "x", Password: "y"}}, []string{"%"}, Target{Galera: true}); err == nil || !strings.Contains(err.Error(), "no role") {
		t.Errorf("unknown role: %v", err)
	}
	if _, err := SQL([]Account{{Role: "app", User: "x"}}, []string{"%"}, Target{Galera: true}); err == nil {
		t.Error("an empty password was accepted")
	}
}

// Percona XtraDB Cluster 8.0 (MySQL 8.0) has neither MariaDB's READ_ONLY ADMIN nor a SUPER worth
// granting: the admin account gets SYSTEM_VARIABLES_ADMIN for every SET GLOBAL keyha makes.
func TestSQLPXC(t *testing.T) {
	accts := []Account{{Role: "monitor", User: "m", Password: "a"}, {Role: "admin", User: "keyha_admin", Password: "b"}}
	got, err := SQL(accts, []string{"%"}, Target{Galera: true, Server: PXC})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "GRANT SYSTEM_VARIABLES_ADMIN ON *.* TO 'keyha_admin'@'%';") || !strings.Contains(got, "GRANT SELECT ON mysql.wsrep_cluster_members TO 'm'@'%';") {
		t.Errorf("PXC grants:\n%s", got)
	}
	for _, never := range []string{"SUPER", "READ_ONLY ADMIN"} {
		if strings.Contains(got, never) {
			t.Errorf("PXC grants hold %s, which MySQL 8.0 deprecates or lacks:\n%s", never, got)
		}
	}
	if _, err := SQL(accts, []string{"%"}, Target{Galera: true, Server: "mysql5"}); err == nil || !strings.Contains(err.Error(), "mariadb or pxc") {
		t.Errorf("an unknown server: %v", err)
	}
}
