package runtime

import (
	"slices"

	"leci/api"
	"leci/pod"
)

// SetTags replaces the tags of a group (TagResources, UntagResources). Tags
// are labels only: nothing of the group restarts. The request the group
// keeps is copied, not changed in place, since snapshots share it.
func (e *Engine) SetTags(id string, tags []api.Tag) error {
	g, err := e.group(id)
	if err != nil {
		return err
	}
	g.update(func(st *GroupStatus) {
		req := *st.Request
		req.Tag = slices.Clone(tags)
		st.Request = &req
	})
	return nil
}

// AddEvent records an event of a group that happened outside its
// supervisor (an image cache matched at create, say).
func (e *Engine) AddEvent(id, typ, reason, message string) error {
	g, err := e.group(id)
	if err != nil {
		return err
	}
	g.update(func(st *GroupStatus) { st.event(e.opts.Now(), typ, reason, "", message) })
	return nil
}

// ImageAuthOf is how the images of req are pulled: its registry
// credentials and its plain-HTTP and insecure registries.
func ImageAuthOf(req *api.CreateContainerGroupRequest) pod.ImageAuth { return imageAuth(req) }
