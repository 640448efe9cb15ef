//go:build !race

package labtest

const raceBuild = false
