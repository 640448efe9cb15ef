// Package island holds the integration test of island mode (island.enabled): a site cut off from
// the Primary component keeps issuing and validating Keystone tokens from its own node, refuses
// writes at once, and takes writes again only once it is back, Synced, and its island is over.
// The decision itself is galera.JudgeIsland; the agent's part is agent/island.go.
package island
