package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"leci/api"
	"leci/commit"
)

// Commits commits containers to images and keeps the tasks:
// *commit.Manager.
type Commits interface {
	// Start commits the container's filesystem changes to the image ref
	// in the background and returns the task's id.
	Start(ctx context.Context, req commit.Request) (string, error)
	// List returns the tasks, newest first.
	List() []commit.Task
}

// CodeTaskNotFound is the code of a DescribeCommitContainerTask naming a
// task leci does not know.
const CodeTaskNotFound = "InvalidTaskId.NotFound"

func (s *Server) commitContainer(c *call) (any, error) {
	if s.opts.Commits == nil {
		return nil, unsupported("CommitContainer", "this leci was started without an image store to commit to")
	}
	var req api.CommitContainerRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	st, err := s.group(req.ContainerGroupID)
	if err != nil {
		return nil, err
	}
	if req.ContainerName == "" {
		return nil, missingParameter("ContainerName")
	}
	if req.Image == nil || req.Image.Repository == "" {
		return nil, missingParameter("Image.Repository")
	}
	ctr, err := container(st, req.ContainerName)
	if err != nil {
		return nil, err
	}
	if ctr.Current.State != api.StateRunning {
		return nil, &api.Error{Code: api.ErrIncorrectStatus.Code, Status: http.StatusBadRequest, Field: "ContainerName",
			Message: fmt.Sprintf("the container %s is %s; only a running container is committed", ctr.Name, ctr.Current.State)}
	}
	tag := req.Image.Tag
	if tag == "" {
		tag = "latest"
	}
	if err := s.available(c.ctx); err != nil {
		return nil, err
	}
	id, err := s.opts.Commits.Start(context.WithoutCancel(c.ctx), commit.Request{
		GroupID: st.ID, Container: ctr.Name, ContainerID: ctr.ID,
		Ref: req.Image.Repository + ":" + tag, Author: req.Image.Author, Message: req.Image.Message,
	})
	if errors.Is(err, commit.ErrInvalidRef) {
		return nil, invalidParameter("Image.Repository", "%v", err)
	}
	if err != nil {
		return nil, err
	}
	return api.CommitContainerResponse{RequestID: c.requestID, TaskID: id}, nil
}

// Page size of DescribeCommitContainerTask.
const commitTasksMax = 100

func (s *Server) describeCommitContainerTask(c *call) (any, error) {
	if s.opts.Commits == nil {
		return nil, unsupported("DescribeCommitContainerTask", "this leci was started without an image store to commit to")
	}
	var req api.DescribeCommitContainerTaskRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	if req.ContainerGroupID == "" {
		return nil, missingParameter("ContainerGroupId")
	}
	limit, err := pageLimit(req.MaxResults, commitTasksMax, commitTasksMax)
	if err != nil {
		return nil, invalidParameter("MaxResults", "must be 1 or more, got %d", req.MaxResults)
	}
	switch req.TaskStatus {
	case "", api.TaskRunning, api.TaskSucceeded, api.TaskFailed:
	default:
		return nil, invalidParameter("TaskStatus", "must be %s, %s or %s, got %q", api.TaskRunning, api.TaskSucceeded, api.TaskFailed, req.TaskStatus)
	}
	var selected []commit.Task
	for _, t := range s.opts.Commits.List() {
		if t.GroupID != req.ContainerGroupID || (req.TaskStatus != "" && t.Status != req.TaskStatus) ||
			(len(req.TaskID) > 0 && !slices.Contains(req.TaskID, t.ID)) {
			continue
		}
		selected = append(selected, t)
	}
	pg, next, err := offsetPage(selected, req.NextToken, limit)
	if err != nil {
		return nil, err
	}
	resp := api.DescribeCommitContainerTaskResponse{RequestID: c.requestID, TotalCount: len(selected),
		MaxResults: strconv.Itoa(limit), NextToken: next}
	for _, t := range pg {
		ct := api.CommitTask{
			TaskID: t.ID, ContainerName: t.Container, TaskStatus: t.Status, TaskProgress: fmt.Sprintf("%d%%", t.Progress),
			StatusMessage: t.Message, TaskCreationTime: timeText(t.CreatedAt), TaskFinishedTime: timeText(t.FinishedAt),
		}
		for _, p := range t.Phases {
			ct.CommitPhaseInfos = append(ct.CommitPhaseInfos, api.CommitPhaseInfo{
				Phase: p.Phase, Status: p.Status, Message: p.Message, RecordTime: timeText(p.At),
			})
		}
		resp.CommitTasks = append(resp.CommitTasks, ct)
	}
	return resp, nil
}
