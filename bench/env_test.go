package bench

import (
	"slices"
	"testing"
)

func TestParseCPUList(t *testing.T) {
	for _, tc := range []struct {
		list string
		want []int
		bad  bool
	}{
		{list: "0", want: []int{0}},
		{list: "0-2", want: []int{0, 1, 2}},
		{list: "1,3-4", want: []int{1, 3, 4}},
		{list: "x", bad: true},
		{list: "1-y", bad: true},
	} {
		got, err := parseCPUList(tc.list)
		if (err != nil) != tc.bad || !slices.Equal(got, tc.want) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v (error %v)", tc.list, got, err, tc.want, tc.bad)
		}
	}
}
