package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/actors/person/civil"
	"github.com/cim/personrt/actors/person/name"
	"github.com/cim/personrt/messages/personv1"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/runtime/gateway"
	"github.com/cim/personrt/runtime/watch"
)

// jsonOut writes proto field names, as the gateway does.
var jsonOut = protojson.MarshalOptions{UseProtoNames: true}

// compactJSON returns m as protojson without insignificant whitespace
// (protojson varies its spacing on purpose).
func compactJSON(m proto.Message) string {
	b, err := jsonOut.Marshal(m)
	if err != nil {
		return fmt.Sprintf("{\"error\":%q}", err.Error())
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return string(b)
	}
	return out.String()
}

// printJSON writes m as one line of JSON.
func printJSON(w io.Writer, m proto.Message) {
	fmt.Fprintln(w, compactJSON(m))
}

func printResult(e *env, cmd *personv1.Command, res *personv1.CommandResult) {
	if e.json {
		printJSON(e.stdout, &personv1.CommandReply{Reply: &personv1.CommandReply_Result{Result: res}})
		return
	}
	types := make([]string, 0, len(res.GetEvents()))
	for _, ev := range res.GetEvents() {
		types = append(types, ev.GetType())
	}
	fmt.Fprintf(e.stdout, "ok  person %s  version %d  %s\n", res.GetPersonId(), res.GetVersion(), strings.Join(types, ", "))
	if res.GetDuplicate() {
		fmt.Fprintf(e.stdout, "    duplicate: command %s was applied before; nothing was written again\n", cmd.GetCommandId())
	}
}

func bindGet(*flag.FlagSet) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		if err := wantArgs(args, 1, "a person id"); err != nil {
			return err
		}
		ctx, cancel := e.call(ctx)
		defer cancel()
		p, err := e.client.Get(ctx, args[0])
		if err != nil {
			return err
		}
		if e.json {
			printJSON(e.stdout, &personv1.PersonReply{Reply: &personv1.PersonReply_Person{Person: p}})
			return nil
		}
		printPerson(e.stdout, p)
		return nil
	}
}

// printPerson writes a person for humans.
func printPerson(out io.Writer, p *personv1.PersonSnapshot) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer w.Flush()
	fmt.Fprintf(w, "person\t%s\n", p.GetPersonId())
	fmt.Fprintf(w, "version\t%d\n", p.GetVersion())
	fmt.Fprintf(w, "state\t%s\n", enumName(p.GetLifecycle().String(), "LIFECYCLE_STATE_"))
	fmt.Fprintf(w, "name\t%s\n", name.Format(p.GetName(), name.Formal))
	if d := p.GetBirthDate(); d != nil {
		fmt.Fprintf(w, "born\t%s\n", civil.String(d))
	}
	if d := p.GetDeathDate(); d != nil {
		fmt.Fprintf(w, "died\t%s\n", civil.String(d))
	}
	if r := p.GetStatusReason(); r != "" {
		fmt.Fprintf(w, "reason\t%s\n", r)
	}
	if t := p.GetMergedIntoPersonId(); t != "" {
		fmt.Fprintf(w, "merged into\t%s (%s)\n", t, enumName(p.GetMergeReason().String(), "MERGE_REASON_"))
	}
	for _, s := range p.GetMergedFromPersonIds() {
		fmt.Fprintf(w, "merged from\t%s\n", s)
	}
	for _, c := range p.GetContacts() {
		var flags []string
		if c.GetPrimary() {
			flags = append(flags, "primary")
		}
		if c.GetVerified() {
			flags = append(flags, "verified")
		}
		if c.GetLabel() != "" {
			flags = append(flags, c.GetLabel())
		}
		parts := []string{enumName(c.GetKind().String(), "CONTACT_KIND_") + " " + c.GetValue()}
		if len(flags) > 0 {
			parts = append(parts, strings.Join(flags, " "))
		}
		fmt.Fprintf(w, "contact\t%s\n", strings.Join(append(parts, "id "+c.GetContactId()), "  "))
	}
	for _, a := range p.GetAttributes() {
		typ := enumName(a.GetType().String(), "ATTRIBUTE_TYPE_")
		if c := a.GetCustom(); c != nil {
			typ = c.GetOrganization() + "/" + c.GetName()
		}
		v := compactJSON(a.GetValue())
		state := ""
		if a.GetInvalidated() {
			state = "  invalidated"
		}
		fmt.Fprintf(w, "attribute\t%s %s%s  id %s\n", typ, v, state, a.GetAttributeId())
	}
	for _, f := range p.GetQualityFlags() {
		fmt.Fprintf(w, "flag\t%s %s: %s\n", enumName(f.GetSeverity().String(), "DATA_QUALITY_SEVERITY_"), f.GetField(), f.GetIssue())
	}
	if s := p.GetSource(); s != "" {
		fmt.Fprintf(w, "source\t%s\n", s)
	}
	if t := p.GetCreatedAt(); t != nil {
		fmt.Fprintf(w, "created\t%s\n", t.AsTime().Format(time.RFC3339))
	}
	if t := p.GetUpdatedAt(); t != nil {
		fmt.Fprintf(w, "updated\t%s\n", t.AsTime().Format(time.RFC3339))
	}
}

func bindHistory(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	var from uint64
	fs.Uint64Var(&from, "from", 1, "first version to print")
	return func(ctx context.Context, e *env, args []string) error {
		if err := wantArgs(args, 1, "a person id"); err != nil {
			return err
		}
		n := 0
		err := e.client.Load(ctx, args[0], from, func(ev *personv1.EventEnvelope) error {
			n++
			printEvent(e, ev)
			return nil
		})
		if err == nil && n == 0 && !e.json {
			fmt.Fprintf(e.stderr, "personctl history: no events of %s from version %d\n", args[0], from)
		}
		return err
	}
}

func bindWatch(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	var from uint64
	fs.Uint64Var(&from, "from", 1, "first version to print; stored events first, then new ones live")
	return func(ctx context.Context, e *env, args []string) error {
		if err := wantArgs(args, 1, "a person id"); err != nil {
			return err
		}
		w, err := watch.New(e.nc, gatewayEvents{e.client}, watch.Config{Store: pjs.Config{Stream: e.stream, SubjectPrefix: e.eventsPrefix}})
		if err != nil {
			return usagef("%v", err)
		}
		err = w.Watch(ctx, args[0], from, func(ev *personv1.EventEnvelope) error {
			printEvent(e, ev)
			return nil
		})
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return nil // Ctrl-C: the normal end of a watch
		}
		return err
	}
}

// printEvent writes one event: a JSON line, or for humans its version,
// time, type and body.
func printEvent(e *env, ev *personv1.EventEnvelope) {
	if e.json {
		printJSON(e.stdout, ev)
		return
	}
	body := compactJSON(ev.GetEvent())
	fmt.Fprintf(e.stdout, "v%-4d %s  %-20s %s\n", ev.GetVersion(), ev.GetOccurredAt().AsTime().Format(time.RFC3339), ev.GetType(), body)
}

// gatewayEvents reads events through the gateway's history subject: the
// watch.Loader that runtime/watch reads through.
type gatewayEvents struct{ c *gateway.Client }

func (g gatewayEvents) Load(ctx context.Context, personID string, fromVersion uint64, fn func(*personv1.EventEnvelope) error) error {
	return g.c.Load(ctx, personID, fromVersion, fn)
}

func enumName(full, prefix string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(full, prefix), "_", "-"))
}

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}
