package galera

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/keyha/keyha/config"
)

// Open returns a connection pool to a node's SQL address: connect bounds the dial and handshake,
// rw every read and write; params are session variables. The password goes only into the driver's
// config, never into a DSN string that could be logged; the credential's TLS, when set, is used.
// Pool sizes are the caller's to set.
func Open(addr string, c config.Credential, connect, rw time.Duration, params map[string]string) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = c.User, c.Password, "tcp", addr
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = connect, rw, rw
	cfg.Params = params
	cfg.TLS = c.TLS // nil: in clear
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure connection to %s: %w", addr, err)
	}
	return sql.OpenDB(conn), nil
}
