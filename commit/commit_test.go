package commit

import (
	"context"
	"path/filepath"
	"testing"
	"testing/synctest"

	"leci/api"
	"leci/store"
)

type blockingCommitter struct{ release chan struct{} }

func (b blockingCommitter) Commit(ctx context.Context, containerID, ref, author, message string) (string, error) {
	<-b.release
	return "sha256:x", nil
}

// A commit a stopped daemon left Running is Failed for the next one, which
// says why.
func TestTaskLeftRunningIsFailedOnOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, err := store.Open(filepath.Join(t.TempDir(), "leci.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		c := blockingCommitter{release: make(chan struct{})}
		m, err := Open(Options{Store: st, Committer: c})
		if err != nil {
			t.Fatal(err)
		}
		id, err := m.Start(context.Background(), Request{GroupID: "eci-1", Container: "app", ContainerID: "x", Ref: "me/app:v1"})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.List(); len(got) != 1 || got[0].Status != api.TaskRunning || got[0].ID != id {
			t.Fatalf("tasks: %+v", got)
		}
		// A second daemon opens the store while the commit runs here: as
		// after a crash, the task is Running in the store.
		m2, err := Open(Options{Store: st, Committer: c})
		if err != nil {
			t.Fatal(err)
		}
		if got := m2.List(); len(got) != 1 || got[0].Status != api.TaskFailed || got[0].Message == "" || got[0].FinishedAt.IsZero() {
			t.Errorf("a task left running: %+v", got)
		}
		close(c.release)
		m.Wait()
		if got := m.List(); got[0].Status != api.TaskSucceeded || got[0].Progress != 100 || got[0].ImageID != "sha256:x" {
			t.Errorf("the finished task: %+v", got)
		}
	})
}
