package containerd

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/containerd/containerd/v2/client"
)

// A create takes the image that Exists found a moment before, and asks
// containerd again once that is older than checkedFresh, or once this
// process pulled, imported or removed an image of that name, even if
// that happened while Exists was asking.
func TestCheckedImages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &Conn{}
		var img client.Image // a nil interface stands for the image found
		const name = "docker.io/library/busybox:latest"

		c.noteChecked(name, img, c.checkedGeneration())
		if _, ok := c.recentlyChecked(name); !ok {
			t.Fatal("an image just found is not kept")
		}
		if _, ok := c.recentlyChecked("docker.io/library/other:latest"); ok {
			t.Error("another name is taken as found")
		}
		time.Sleep(checkedFresh + time.Millisecond)
		if _, ok := c.recentlyChecked(name); ok {
			t.Error("an image found more than checkedFresh ago is still taken")
		}

		c.noteChecked(name, img, c.checkedGeneration())
		c.forgetChecked(name)
		if _, ok := c.recentlyChecked(name); ok {
			t.Error("an image forgotten (pulled, removed) is still taken")
		}

		// An Exists under way while the name is pulled does not keep
		// what it found.
		gen := c.checkedGeneration()
		c.forgetChecked(name)
		c.noteChecked(name, img, gen)
		if _, ok := c.recentlyChecked(name); ok {
			t.Error("an image found while its name changed is kept")
		}

		// An import may name any image.
		c.noteChecked(name, img, c.checkedGeneration())
		c.forgetChecked()
		if _, ok := c.recentlyChecked(name); ok {
			t.Error("an image is still taken after an import")
		}
	})
}
