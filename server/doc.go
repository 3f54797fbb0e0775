// Package server serves the ECI 2018-08-08 OpenAPI in its RPC style, as the
// official Alibaba Cloud SDKs and the aliyun CLI send it
// (shared/reference/wire-protocol.md), so that they work against leci with
// only the endpoint changed.
//
// # Requests
//
// The action is the query's Action, else the x-acs-action header (both, when
// given, must agree). Parameters are the query merged with a form body; POST
// and GET are both accepted, on the path "/". The protocol's common
// parameters (Action, Version, Signature, Timestamp, ...) are not part of an
// action's request, and neither are OwnerId, OwnerAccount, ResourceOwnerId and
// ResourceOwnerAccount, which the SDKs may send with any action: they are
// accepted and ignored (CreateContainerGroup keeps them in its request, where
// the API declares them). A body is at most MaxBodyBytes (1 MiB); the query is
// bounded by the HTTP server's header limit.
//
// # Authentication
//
// A request that came through a unix socket is trusted: the socket's file
// mode decides who may connect. Every other request must be signed with an
// AccessKey of Options.AccessKeys, in either form the SDKs use:
// ACS3-HMAC-SHA256 (v3, the tea SDK's default) or the RPC HMAC-SHA1 (v1: the
// tea SDK with SignatureAlgorithm "v2", the legacy SDK, the aliyun CLI). The
// signed time (x-acs-date or Timestamp) must be within 15 minutes of the
// server's clock, and a SignatureNonce is accepted once. A v3 request must
// sign host, every x-acs-* header it carries, and content-type when it has a
// body. A request that fails authentication is refused before anything is
// decoded or done.
//
// # Responses
//
// Every answer is a JSON object with Content-Type
// "application/json;charset=utf-8" and a RequestId (also in the
// x-acs-request-id header). Errors are HTTP 4xx or 5xx with
// {"RequestId","HostId","Code","Message","Recommend"}, rendered by one
// function (writeError) from api.AsErrors: several problems of one request
// are reported at once, the first one's code and status leading.
//
// # Error codes
//
//	status  code                              when
//	400     MissingParameter                  a required parameter is absent (ContainerGroupId, Action, ...)
//	400     InvalidParameter[.X]              a parameter is malformed, or CreateContainerGroup's validation fails
//	400     DryRunOperation                   CreateContainerGroup with DryRun=true passed validation; nothing was created
//	400     IdempotentParameterMismatch       a ClientToken reused with different parameters
//	400     IncorrectStatus                   exec in a container that is not running
//	400     InvalidVersion                    a Version other than 2018-08-08
//	404     InvalidContainerGroup.NotFound    no group with that ContainerGroupId (leci's choice; ECI's code is unconfirmed)
//	404     InvalidContainerName.NotFound     no container of that name in the group (leci's choice)
//	404     InvalidAction.NotFound            an action leci does not serve (as Alibaba Cloud's API gateway answers)
//	405     UnsupportedHTTPMethod             a method other than GET and POST
//	413     RequestTooLarge                   a body over MaxBodyBytes
//	400     <Action>.NotSupport               an action of the SDK that has no meaning on one host (unsupported.go)
//	400     QuotaExceeded.TagsPerResource     a TagResources that would give a resource more than 20 tags
//	403     QuotaExceeded.ImageCache          a CreateImageCache beyond 50 caches
//	404     InvalidImageCache.NotFound        no image cache with that ImageCacheId (leci's choice)
//	404     ImageSnapshot.NotFound            a create's ImageSnapshotId names no cache
//	400     ImageSnapshot.IncorrectStatus     a create's ImageSnapshotId names a cache that is not Ready
//	400     Cpu.NotSupport                    an UpdateContainerGroup that changes the group's own Cpu or Memory
//	501     NotImplemented                    an action or mode leci does not implement yet
//	400     IncompleteSignature               a TCP request that is unsigned, or whose signature lacks a part
//	404     InvalidAccessKeyId.NotFound       an AccessKey id not in the configuration
//	400     SignatureDoesNotMatch             a wrong signature (the message carries the server's string to sign)
//	400     InvalidTimeStamp.Format           an unreadable Timestamp or x-acs-date
//	400     InvalidTimeStamp.Expired          a signed time more than 15 minutes from the server's clock
//	400     SignatureNonceUsed                a SignatureNonce seen before
//	400     Throttling.User                   the nonce cache is full (more than MaxNonces signed requests in 30 minutes),
//	                                          or 1000 exec sessions wait for their WebSocket
//	404     InvalidExecSession.NotFound       GET /exec/TOKEN with a token unknown, already used or expired
//	500     InternalError                     anything else; the message is the error's text
//	503     ServiceUnavailable                create, delete, restart or exec while containerd cannot be reached (stopped or
//	                                          restarting): nothing was done; reads go on, and leci reconnects by itself
//	504     Timeout                           an action that did not finish within ActionTimeout
//
// # Actions
//
// CreateContainerGroup, DescribeContainerGroups, DescribeContainerGroupStatus,
// DeleteContainerGroup, RestartContainerGroup, DescribeContainerLog,
// ExecContainerCommand (Sync=true: the output in SyncResponse; otherwise a
// WebSocket session, see below) and DescribeContainerGroupEvents.
// DescribeContainerGroupMetric answers from the engine's samples of the
// group's cgroups and interfaces, taken every 15 s and kept for an hour (see
// runtime.Engine.Metrics for each figure); StartTime and EndTime are RFC 3339,
// Period is 15, 30, 60 or 600 (60 by default; without StartTime and EndTime,
// the last 5 minutes at 15 s). CreateContainerGroup
// answers as soon as the group is accepted; DeleteContainerGroup as soon as
// the group is found, the deletion going on in the background (as in ECI, the
// group shows Terminating meanwhile); Force is accepted and ignored.
//
// The rest of the SDK's actions are served in resources.go (DescribeRegions,
// DescribeAvailableResource, ListUsage, DescribeContainerGroupPrice,
// DescribeMultiContainerGroupMetric), tags.go, caches.go, update.go and
// commit.go; the README's table lists every action and why some are not
// served.
//
// # Exec sessions
//
// ExecContainerCommand without Sync=true answers a WebSocketUri,
// ws://HOST/exec/TOKEN (HOST: the request's Host; over the unix socket a
// client dials the socket it called, with that path) and an empty HttpUrl
// (leci serves no browser terminal). The session is bound to the group,
// container, Command, Stdin (default true) and TTY of the request; the
// container must be running. The token is the credential: GET /exec/TOKEN
// needs no signature, even over TCP, works once, and only within
// ExecSessionTTL (60 s). The WebSocket speaks Kubernetes' channel protocol,
// v5.channel.k8s.io or v4.channel.k8s.io: each message's first byte is its
// channel, 0 stdin, 1 stdout, 2 stderr (none with TTY), 3 the final status
// (a Kubernetes metav1.Status: Success, or Failure with reason
// NonZeroExitCode and the exit code in details.causes), 4 a resize
// {"Width","Height"}, and in v5 255 followed by 0 to close stdin. With TTY
// the first message (at most 1 s awaited) gives the initial size when it is
// a resize. Closing the WebSocket early kills the command. See exec_ws.go.
//
// AttachContainer, leci's own action, answers a session on the same
// protocol that attaches to the container's own process instead (see
// attach.go): its output from then on and, with Stdin=true, its stdin.
//
// # Metrics
//
// GET /metrics, on every listener and without a signature (it carries ids,
// names and counts, no secret), answers Prometheus' text format: groups by
// status, each container's restarts, readiness and running state, and the
// API's requests by action and HTTP status with a latency histogram by
// action (see serveMetrics). Actions leci does not serve count as "other".
package server
