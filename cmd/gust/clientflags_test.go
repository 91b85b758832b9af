package main

import (
	"reflect"
	"testing"
)

// TestMosquittoArgs: -h with a value is the host, -h alone is help; -D
// takes three arguments, four for user-property.
func TestMosquittoArgs(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
		props    []property
		bad      bool
	}{
		{in: []string{"-h", "broker", "-t", "a"}, want: []string{"--host", "broker", "-t", "a"}},
		{in: []string{"-t", "a", "-h"}, want: []string{"-t", "a", "-h"}},
		{in: []string{"-h", "-t", "a"}, want: []string{"-h", "-t", "a"}},
		{in: []string{"-D", "publish", "user-property", "k", "v", "-t", "a", "--property", "publish", "content-type", "text/plain"},
			want: []string{"-t", "a"},
			props: []property{{command: "publish", name: "user-property", value: "k", value2: "v"},
				{command: "publish", name: "content-type", value: "text/plain"}}},
		{in: []string{"-t", "a", "--", "-h", "x"}, want: []string{"-t", "a", "--", "-h", "x"}},
		{in: []string{"-D", "publish", "user-property", "k"}, bad: true},
		{in: []string{"-D", "publish"}, bad: true},
	} {
		got, props, err := mosquittoArgs(tc.in)
		if tc.bad != (err != nil) || (!tc.bad && (!reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(props, tc.props))) {
			t.Errorf("mosquittoArgs(%q) = %q, %+v, %v; want %q, %+v (error: %v)", tc.in, got, props, err, tc.want, tc.props, tc.bad)
		}
	}
}
