package docker

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

// A process that exits at once may have its finish, which containerd
// stamps, before its start, which dockerd stamps once the start returned
// (seen with Docker 20.10: started .358477, finished .358064). The exit
// leci reports never ends before it began.
func TestExitOfNeverEndsBeforeItBegan(t *testing.T) {
	state := func(started, finished string) container.InspectResponse {
		return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{
			State: &container.State{ExitCode: 3, StartedAt: started, FinishedAt: finished},
		}}
	}
	ex := exitOf(state("2026-12-06T13:37:39.358477303Z", "2026-12-06T13:37:39.358064674Z"))
	finished := time.Date(2026, 12, 6, 13, 37, 39, 358064674, time.UTC)
	if !ex.FinishedAt.Equal(finished) || !ex.StartedAt.Equal(finished) || ex.Code != 3 {
		t.Errorf("exit %+v, want code 3, started and finished at %v", ex, finished)
	}

	ex = exitOf(state("2026-12-06T13:37:39.1Z", "2026-12-06T13:37:41.1Z"))
	if got := ex.FinishedAt.Sub(ex.StartedAt); got != 2*time.Second {
		t.Errorf("an ordinary run: %v long, want the 2s dockerd stamped", got)
	}
}
