// Package natsserver runs an embedded nats-server with JetStream inside the
// process: the default runtime of persond and the server of every test.
//
// # Usage
//
//	srv, err := natsserver.Start(natsserver.Config{StoreDir: dir})
//	if err != nil { … }
//	defer srv.Shutdown(ctx)
//	nc, err := nats.Connect(srv.ClientURL())
//
// The listener binds to 127.0.0.1 by default. The server never installs
// signal handlers (NoSigs) and logs through the injected *slog.Logger.
package natsserver
