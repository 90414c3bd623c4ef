package storage

import (
	"fmt"
	"testing"
)

// TestMostCommon: the value that occurs most often (of equals, the first
// to reach the count), whether the values are told apart by comparison
// or, past mostCommonScan distinct ones, by a map.
func TestMostCommon(t *testing.T) {
	many := func(distinct, repeatLast int) [][]byte {
		var vs [][]byte
		for i := range distinct {
			vs = append(vs, fmt.Appendf(nil, "v%d", i))
		}
		for range repeatLast {
			vs = append(vs, fmt.Appendf(nil, "v%d", distinct-1)) // a new slice, equal content
		}
		return vs
	}
	for _, tc := range []struct {
		name string
		vs   [][]byte
		want string
	}{
		{"one", [][]byte{[]byte("a")}, "a"},
		{"ties go to the first to get there", [][]byte{[]byte("b"), []byte("a"), []byte("b"), []byte("a")}, "b"},
		{"majority", [][]byte{[]byte("a"), []byte("b"), []byte("b")}, "b"},
		{"few distinct", many(mostCommonScan, 1), fmt.Sprintf("v%d", mostCommonScan-1)},
		{"many distinct", many(3*mostCommonScan, 1), fmt.Sprintf("v%d", 3*mostCommonScan-1)},
		{"many distinct, all once", many(3*mostCommonScan, 0), "v0"},
	} {
		if got := string(mostCommon(tc.vs)); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
