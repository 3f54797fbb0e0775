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
//	501     NotImplemented                    an action or mode leci does not implement yet (interactive exec, metrics)
//	400     IncompleteSignature               a TCP request that is unsigned, or whose signature lacks a part
//	404     InvalidAccessKeyId.NotFound       an AccessKey id not in the configuration
//	400     SignatureDoesNotMatch             a wrong signature (the message carries the server's string to sign)
//	400     InvalidTimeStamp.Format           an unreadable Timestamp or x-acs-date
//	400     InvalidTimeStamp.Expired          a signed time more than 15 minutes from the server's clock
//	400     SignatureNonceUsed                a SignatureNonce seen before
//	400     Throttling.User                   the nonce cache is full (more than MaxNonces signed requests in 30 minutes)
//	500     InternalError                     anything else; the message is the error's text
//	504     Timeout                           an action that did not finish within ActionTimeout
//
// # Actions
//
// CreateContainerGroup, DescribeContainerGroups, DescribeContainerGroupStatus,
// DeleteContainerGroup, RestartContainerGroup, DescribeContainerLog,
// ExecContainerCommand (Sync=true; the WebSocket session of Sync=false is
// NotImplemented for now) and DescribeContainerGroupEvents.
// DescribeContainerGroupMetric answers NotImplemented. CreateContainerGroup
// answers as soon as the group is accepted; DeleteContainerGroup as soon as
// the group is found, the deletion going on in the background (as in ECI, the
// group shows Terminating meanwhile); Force is accepted and ignored.
//
// # Metrics
//
// GET /metrics, on every listener and without a signature (it carries ids,
// names and counts, no secret), answers Prometheus' text format: groups by
// status, each container's restarts, readiness and running state, and the
// API's requests by action and HTTP status with a latency histogram by
// action (see serveMetrics). Actions leci does not serve count as "other".
package server
