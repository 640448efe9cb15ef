// Package deploy holds what is installed on a site beside the binary: the agent's packaged unit
// (render.GenericUnit, byte for byte), an example cluster file, the DRBD stack's scripts; and the
// test of the .deb that ships them (scripts/package).
package deploy
