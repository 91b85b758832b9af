package trie

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// require is a minimal stand-in for testify's require (testify's yaml
// dependency has no go.sum entry in this module); same names, same order of
// arguments.
var require assertions

type assertions struct{}

func msg(args []any) string {
	if len(args) == 0 {
		return ""
	}
	if f, ok := args[0].(string); ok {
		return ": " + fmt.Sprintf(f, args[1:]...)
	}
	return ": " + fmt.Sprint(args...)
}

func (assertions) Equal(t testing.TB, want, got any, args ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("want %v, got %v%s", want, got, msg(args))
	}
}

func (assertions) NotEqual(t testing.TB, a, b any, args ...any) {
	t.Helper()
	if reflect.DeepEqual(a, b) {
		t.Fatalf("both %v%s", a, msg(args))
	}
}

func (assertions) True(t testing.TB, v bool, args ...any) {
	t.Helper()
	if !v {
		t.Fatalf("false%s", msg(args))
	}
}

func (assertions) False(t testing.TB, v bool, args ...any) {
	t.Helper()
	if v {
		t.Fatalf("true%s", msg(args))
	}
}

func (assertions) NoError(t testing.TB, err error, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("error %v%s", err, msg(args))
	}
}

func (assertions) Error(t testing.TB, err error, args ...any) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error%s", msg(args))
	}
}

func (assertions) ErrorIs(t testing.TB, err, target error, args ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v%s", err, target, msg(args))
	}
}

func (assertions) Len(t testing.TB, v any, n int, args ...any) {
	t.Helper()
	if l := reflect.ValueOf(v).Len(); l != n {
		t.Fatalf("len %d, want %d%s", l, n, msg(args))
	}
}

func (a assertions) Empty(t testing.TB, v any, args ...any) {
	t.Helper()
	a.Len(t, v, 0, args...)
}

func (assertions) NotNil(t testing.TB, v any, args ...any) {
	t.Helper()
	if v == nil || reflect.ValueOf(v).IsNil() {
		t.Fatalf("nil%s", msg(args))
	}
}

func (assertions) Zero(t testing.TB, v any, args ...any) {
	t.Helper()
	if !reflect.ValueOf(v).IsZero() {
		t.Fatalf("%v is not zero%s", v, msg(args))
	}
}

func (assertions) Greater(t testing.TB, a, b int, args ...any) {
	t.Helper()
	if a <= b {
		t.Fatalf("%d <= %d%s", a, b, msg(args))
	}
}

func (assertions) ElementsMatch(t testing.TB, want, got []uint32, args ...any) {
	t.Helper()
	w, g := slices.Clone(want), slices.Clone(got)
	slices.Sort(w)
	slices.Sort(g)
	if !slices.Equal(w, g) {
		t.Fatalf("want elements %v, got %v%s", want, got, msg(args))
	}
}
