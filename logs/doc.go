// Package logs writes and reads the log files of leci's containers.
//
// A container's stdout and stderr go through containerd's binary log URI
// (cio.BinaryIO) to leci-helper, the small program the leci binary carries
// (or to the leci binary itself, built without it), run by the runc shim as
// "leci-helper log-writer PATH" (see BinaryArgs and RunShimWriter). The writer is a
// child of the shim, not of the leci daemon, so logs keep flowing while the
// daemon is down or restarting.
//
// Files are in the CRI log format the kubelet reads, one record a line:
//
//	2024-05-01T10:00:00.123456789Z stdout F hello
//	<RFC 3339 UTC time> <stdout|stderr> <P|F> <text>
//
// F ends a line; P is a part of a line longer than MaxLineBytes, continued
// by the next records of the same stream. The current file is PATH; when it
// would grow past WriterOptions.MaxBytes it is renamed PATH.1, PATH.1 to
// PATH.2, and so on, keeping WriterOptions.MaxFiles files in all. A writer
// holds a flock on PATH.lock while it runs, which is how readers (Writing,
// Follow with UntilWriterDone) know it has finished, however it ended; the
// lock file stays, for whoever removes the log directory. One writer at a
// time per path: leci gives each run of a container a file of its own.
package logs
