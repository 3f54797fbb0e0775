package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"leci/api"
	"leci/pod"
)

// awayGroups is the fake engine with its runtime out of reach: the engine's
// writes fail as runtime.Engine's do, and Available says so.
type awayGroups struct {
	*fakeGroups
	err error
}

func (a awayGroups) Available(context.Context) error { return a.err }

// While containerd is away, reads answer as usual and writes answer 503
// ServiceUnavailable, with nothing done.
func TestRuntimeUnavailable(t *testing.T) {
	away := fmt.Errorf("%w: containerd at /run/x.sock does not answer (connection refused)", pod.ErrUnavailable)
	var groups awayGroups
	e := newTestEnv(t, func(o *Options) {
		groups = awayGroups{fakeGroups: o.Groups.(*fakeGroups)}
		o.Groups = &groups
	})
	id := e.create(t, webRequest("before"))

	groups.err = away
	e.groups.createErr, e.groups.restartErr, e.groups.execErr = away, away, away
	for _, params := range []map[string]string{
		{"Action": "DescribeContainerGroups"},
		{"Action": "DescribeContainerGroupStatus"},
		{"Action": "DescribeContainerGroupEvents", "ContainerGroupIds": `["` + id + `"]`},
		{"Action": "DescribeContainerLog", "ContainerGroupId": id, "ContainerName": "web"},
	} {
		var kv []string
		for k, v := range params {
			if k != "Action" {
				kv = append(kv, k, v)
			}
		}
		var resp map[string]any
		e.call(t, action(params["Action"], kv...), &resp)
	}

	for _, params := range []map[string]string{
		{"Action": "CreateContainerGroup"},
		{"Action": "DeleteContainerGroup", "ContainerGroupId": id},
		{"Action": "RestartContainerGroup", "ContainerGroupId": id},
		{"Action": "ExecContainerCommand", "ContainerGroupId": id, "Command": `["true"]`, "Sync": "true"},
		{"Action": "ExecContainerCommand", "ContainerGroupId": id, "Command": `["sh"]`, "Sync": "false"},
	} {
		t.Run(params["Action"]+params["Sync"], func(t *testing.T) {
			req := webRequest("during")
			if params["Action"] != "CreateContainerGroup" {
				req = action(params["Action"])
				for k, v := range params {
					req.Set(k, v)
				}
			}
			er := e.wantError(t, req, http.StatusServiceUnavailable, CodeServiceUnavailable)
			if !strings.Contains(er.Message, "containerd") || !strings.Contains(er.Message, "unreachable") {
				t.Errorf("message %q does not say that containerd is unreachable", er.Message)
			}
		})
	}
	if err := e.srv.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(e.groups.deletes) != 0 {
		t.Errorf("deletes %v while the runtime was away, want none", e.groups.deletes)
	}
	if st, err := e.groups.Get(id); err != nil || st.Phase != api.GroupRunning {
		t.Errorf("group after the refused delete: %v %v, want Running", st.Phase, err)
	}
}
