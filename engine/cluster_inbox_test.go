package engine

import (
	"math/rand/v2"
	"testing"
)

// shuffleLoop is a network.Loop whose Execute only queues its tasks, for
// the test to run in any order, as gnet may under load.
type shuffleLoop struct {
	fakeLoop
	tasks []func()
}

func (el *shuffleLoop) Execute(fn func()) error {
	el.tasks = append(el.tasks, fn)
	return nil
}

// TestClusterInboxKeepsOrder: batches handed to a loop run in the order
// they were handed, whatever the order in which Execute runs its tasks.
func TestClusterInboxKeepsOrder(t *testing.T) {
	nl := &shuffleLoop{}
	l := &loop{nl: nl}
	rng := rand.New(rand.NewPCG(1, 2))
	var ran []int
	next := 0
	for step := 0; step < 10000; step++ {
		if len(nl.tasks) > 0 && rng.IntN(3) == 0 {
			i := rng.IntN(len(nl.tasks)) // any queued task, not the oldest
			fn := nl.tasks[i]
			nl.tasks = append(nl.tasks[:i], nl.tasks[i+1:]...)
			fn()
			continue
		}
		k := next
		next++
		if err := l.runCluster(func() { ran = append(ran, k) }); err != nil {
			t.Fatal(err)
		}
	}
	for len(nl.tasks) > 0 {
		fn := nl.tasks[len(nl.tasks)-1]
		nl.tasks = nl.tasks[:len(nl.tasks)-1]
		fn()
	}
	if len(ran) != next {
		t.Fatalf("%d of %d batches ran", len(ran), next)
	}
	for i, k := range ran {
		if k != i {
			t.Fatalf("batch %d ran %dth", k, i)
		}
	}
}
