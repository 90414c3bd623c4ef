package storage

import "testing"

// TestMostCommon: the value that occurs most often, and of equals the
// first to reach the count.
func TestMostCommon(t *testing.T) {
	for _, tc := range []struct {
		name string
		vs   []int
		n    int
		want int
	}{
		{"one", []int{0}, 1, 0},
		{"ties go to the first to get there", []int{1, 0, 1, 0}, 2, 1},
		{"majority", []int{0, 1, 1}, 2, 1},
		{"a late majority", []int{3, 2, 1, 0, 0, 0}, 4, 0},
		{"all once", []int{4, 3, 2, 1, 0}, 5, 4},
	} {
		if got := mostCommon(tc.vs, tc.n); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}
