// Package monitoring holds what operators plug into their monitoring: Prometheus alert rules
// (keyha-alerts.yml, unit-tested by keyha-alerts.test.yml with promtool) and a Grafana dashboard
// (keyha-dashboard.json), shipped in the package under /usr/share/keyha/monitoring.
package monitoring
