package containerd

import (
	"io"
	"log/slog"

	"github.com/sirupsen/logrus"
	logrusslog "github.com/sirupsen/logrus/hooks/slog"
)

// clientLogger gives containerd's client library, which logs through logrus
// found in the context, a logger that writes to leci's slog logger instead
// of the process's stderr.
func clientLogger(log *slog.Logger) *logrus.Entry {
	l := logrus.New()
	l.Out = io.Discard
	l.SetLevel(logrus.DebugLevel) // the slog handler decides what shows
	l.AddHook(logrusslog.NewHook(log.With("from", "containerd-client"), &logrusslog.HookOptions{
		LevelMapper: clientLogLevel,
	}))
	return logrus.NewEntry(l)
}

// clientLogLevel lowers the client's info messages ("fetch failed", with the
// same cause as the error the call returns) to debug.
func clientLogLevel(l logrus.Level) slog.Level {
	switch l {
	case logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel:
		return slog.LevelError
	case logrus.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelDebug
	}
}
