//go:build race

package labtest

// raceBuild: the test binary runs under the race detector, so the lab's keyha does too.
const raceBuild = true
