package pullprogress

import (
	"bytes"
	"testing"

	"github.com/docker/docker/pkg/jsonmessage"
)

// TestPlainLines: off a terminal, each layer's state shows once, in a line
// of its own, and byte counts not at all.
func TestPlainLines(t *testing.T) {
	var out bytes.Buffer
	d := NewDisplay(&out)
	for _, m := range []jsonmessage.JSONMessage{
		{ID: "latest", Status: "Pulling from library/busybox"},
		{ID: "0123456789ab", Status: "Waiting"},
		{ID: "0123456789ab", Status: "Downloading", Progress: &jsonmessage.JSONProgress{Current: 10, Total: 100}},
		{ID: "0123456789ab", Status: "Downloading", Progress: &jsonmessage.JSONProgress{Current: 90, Total: 100}},
		{ID: "0123456789ab", Status: "Download complete"},
		// dockerd sends the bar as text too
		{ID: "0123456789ab", Status: "Extracting", Progress: &jsonmessage.JSONProgress{Current: 5, Total: 100}, ProgressMessage: "[=>  ] 5B/100B"},
		{ID: "0123456789ab", Status: "Pull complete"},
		{Status: "Digest: sha256:feed"},
	} {
		d.Message(m)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	want := `latest: Pulling from library/busybox
0123456789ab: Waiting
0123456789ab: Downloading
0123456789ab: Download complete
0123456789ab: Extracting
0123456789ab: Pull complete
Digest: sha256:feed
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestNothingShownNothingRun: a display given no message writes nothing.
func TestNothingShownNothingRun(t *testing.T) {
	var out bytes.Buffer
	d := NewDisplay(&out)
	if err := d.Close(); err != nil || out.Len() != 0 || d.enc != nil {
		t.Errorf("Close: %v, wrote %q, started %v", err, out.String(), d.enc != nil)
	}
}
