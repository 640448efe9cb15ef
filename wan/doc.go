// Package wan holds the integration tests of the lab run over its WAN (scripts/lab up --wan): a
// router VM with netem between the sites. They check what keyha measures and decides when the
// sites are tens of milliseconds apart, and that a lossy link does not move the writer.
package wan
