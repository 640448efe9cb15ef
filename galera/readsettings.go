package galera

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// ReadSettings reads what check-config and the agent's drift check judge from one node: the
// global variables named (with SHOW, so a variable this server lacks is absent, not an error:
// MariaDB has no pxc_*, MySQL 8.0 no information_schema.GLOBAL_VARIABLES), its provider options,
// and the cluster size. A failure is in the result's Err.
func ReadSettings(ctx context.Context, db *sql.DB, site string, names []string) NodeSettings {
	n := NodeSettings{Site: site, Vars: map[string]string{}}
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('"+strings.Join(append([]string{"wsrep_provider_options"}, names...), "','")+"')")
	if err != nil {
		n.Err = fmt.Sprintf("read variables: %v", err)
		return n
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			n.Err = err.Error()
			return n
		}
		n.Vars[strings.ToLower(k)] = v
	}
	if err := rows.Err(); err != nil {
		n.Err = fmt.Sprintf("read variables: %v", err)
		return n
	}
	n.Provider = ParseProviderOptions(n.Vars["wsrep_provider_options"])
	delete(n.Vars, "wsrep_provider_options")
	var k, size string
	if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'").Scan(&k, &size); err == nil {
		n.ClusterSize, _ = strconv.Atoi(size)
	}
	return n
}
