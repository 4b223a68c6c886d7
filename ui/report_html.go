package ui

import (
	"html/template"
	"io"
)

// reportHTML writes the report as one self-contained page: inline CSS, no
// fonts, scripts or images fetched from anywhere, so that the printed copy
// in the binder is the file as it was written. html/template escapes every
// string the transcript supplies.
func reportHTML(w io.Writer, v reportView) error {
	t, err := template.New("report").Parse(reportPage)
	if err != nil {
		return err
	}
	return t.Execute(w, v)
}

// reportPage prints on A4 and Letter alike: no width beyond the printable
// area, nothing split across pages that can be kept whole, fingerprints in
// monospace that wrap between groups only. Exceptions carry a mark (⚠, ✗)
// and a heavy or dashed border as well as a colour, so that they survive a
// black-and-white printer and colour-blind readers.
const reportPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .Training}}TRAINING · {{end}}Key ceremony report: {{.Kind}}</title>
<style>
@page { size: auto; margin: 15mm }
* { box-sizing: border-box }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact }
body { margin: 0 auto; max-width: 210mm; padding: 12mm 15mm; color: #111; background: #fff;
  font: 10pt/1.45 "DejaVu Sans", "Helvetica Neue", Helvetica, Arial, sans-serif }
@media print { body { max-width: none; padding: 0 } }
h1 { font-size: 18pt; margin: 0 0 1mm }
h2 { font-size: 13pt; margin: 8mm 0 2.5mm; padding-bottom: 1mm; border-bottom: 1.5pt solid #111; break-after: avoid }
h3 { font-size: 10.5pt; margin: 0 0 1.5mm; break-after: avoid }
p { margin: 0 0 1.5mm }
.sub { color: #333; margin-bottom: 4mm }
.mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace; font-size: 9pt }
.fp { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 1mm 2mm }
.fp > span { display: block; break-inside: avoid }
.fp .mono, .fp i { display: block }
.fp i { font-size: 8.5pt }
.nowrap { white-space: nowrap }
.cards { display: flex; flex-wrap: wrap; gap: 0 3mm }
.cards > .card { flex: 1 1 100% }
.cards > .card.half { flex: 1 1 40% }
table { width: 100%; border-collapse: collapse; margin: 1mm 0 2mm; break-inside: avoid }
tr, .box, .card, blockquote { break-inside: avoid }
th, td { text-align: left; vertical-align: top; padding: 1.2mm 1.8mm; border-bottom: 0.5pt solid #999; overflow-wrap: anywhere }
thead th { border-bottom: 1.2pt solid #111; font-size: 9pt; overflow-wrap: normal }
thead { display: table-header-group }
td.num { text-align: right }
td.name { overflow-wrap: break-word }
td.name .id { overflow-wrap: anywhere }
.kv th { width: 23%; font-weight: 600; overflow-wrap: normal }
.card { border: 0.8pt solid #777; padding: 2.5mm 3mm 1mm; margin: 0 0 3mm }
.card.warn { border: 2pt dashed #8a4b00 }
.box { border: 1pt solid #555; padding: 2.5mm 3.5mm; margin: 0 0 3mm }
.box.pass { border: 2pt solid #1e6b1e; background: #eef7ee }
.box.fail { border: 3pt double #a00000; background: #fdecea }
.box.warn { border: 2pt dashed #8a4b00; background: #fff5e0 }
.big { font-size: 12pt; font-weight: 700 }
tr.warn td, tr.warn th { background: #fff5e0; font-weight: 600 }
tr.warn > :first-child { border-left: 3pt solid #8a4b00 }
tr.fail td { background: #fdecea; font-weight: 700 }
tr.fail > :first-child { border-left: 4pt double #a00000 }
.id, .note { font-weight: normal; font-size: 8.5pt; color: #333 }
.note::before { content: "— " }
blockquote { margin: 1mm 0 0; padding-left: 3mm; border-left: 2pt solid #777 }
.sign td { height: 12mm }
</style>
</head>
<body>
<h1>Key ceremony report</h1>
<p class="sub">Transcript <span class="mono">{{.Transcript}}</span>{{if .Kind}} · ceremony <b>{{.Kind}}</b>{{end}} · times in UTC</p>
{{if .Training}}<div class="box warn" role="note"><p class="big">⚠ TRAINING — NOT FOR PRODUCTION</p><p>A rehearsal's record: its certificates say O=TRAINING - NOT FOR PRODUCTION and nothing it made may be trusted.</p></div>
{{end}}{{with .Verdict}}{{if .OK}}<div class="box pass"><p class="big">✓ {{.Headline}}</p></div>
{{else}}<div class="box fail" role="alert"><p class="big">✗ {{.Headline}}</p>
<p><b>First failure:</b> {{if .First}}{{.First}}{{else}}not reported{{end}}</p>
<p>{{.Caveat}}</p></div>
{{end}}{{end}}
{{if not .Unread}}
{{if .Exceptions}}<div class="box warn"><p class="big">{{.Tally}}</p><p>Section 3 lists them; each is marked ⚠ where it happened.</p></div>
{{else}}<div class="box"><p>{{.Tally}}</p></div>{{end}}

<h2>1. The ceremony</h2>
<div class="cards">{{range .Header}}{{template "block" .}}{{end}}</div>

<h2>2. The plan against what happened</h2>
<table>
<thead><tr><th>#</th><th>Step</th><th>Outcome</th><th>Attempts</th><th>Started</th><th>Finished</th></tr></thead>
<tbody>
{{range .Steps}}<tr{{if .Warn}} class="warn"{{end}}><td>{{.N}}</td><td class="name">{{.Title}}<div class="id mono">{{.ID}}</div></td>
<td>{{.Outcome}}{{range .Notes}}<div class="note">{{.}}</div>{{end}}</td><td class="num">{{.Attempts}}</td><td class="mono nowrap">{{.Started}}</td><td class="mono nowrap">{{.Finished}}</td></tr>
{{end}}</tbody>
</table>

<h2>3. Exceptions</h2>
{{range .Exceptions}}<div class="box warn"><p><b>⚠ {{.Kind}}</b>{{if .Line}} · line {{.Line}}{{end}}{{if .Time}} · {{.Time}}{{end}}{{if .Step}} · step “{{.Step}}”{{end}}</p><p>{{.Text}}</p></div>
{{else}}<p>None: the ceremony followed the plan.</p>
{{end}}

<h2>4. Keys made in the token</h2>
{{range .Keys}}{{template "block" .}}{{else}}<p>None recorded.</p>{{end}}

<h2>5. Certificates</h2>
{{range .Certs}}{{template "block" .}}{{else}}<p>None recorded.</p>{{end}}

<h2>6. Repositories published</h2>
{{range .Repos}}{{template "block" .}}{{else}}<p>None recorded.</p>{{end}}

<h2>7. Witnesses</h2>
{{if .Declared}}<table>
<thead><tr><th>Declared witness</th><th>Role</th><th>Key ID</th><th>Signature</th></tr></thead>
<tbody>
{{range .Declared}}<tr{{if .Warn}} class="warn"{{end}}><td class="name">{{.Name}}</td><td class="name">{{.Role}}</td><td class="mono">{{.KeyID}}</td><td>{{.Signed}}</td></tr>
{{end}}</tbody>
</table>{{end}}
{{range .Signed}}<div class="card{{if not .Declared}} warn{{end}}"><h3>{{if not .Declared}}⚠ {{end}}{{.Name}}{{if .Role}} ({{.Role}}){{end}}</h3>
<p>Signed {{.Time}} · line {{.Line}} · key <span class="mono">{{.KeyID}}</span></p>
<blockquote>{{.Statement}}</blockquote>
{{if not .Declared}}<p><b>⚠ Not a key the header declared: listed, not counted.</b></p>{{end}}</div>
{{else}}<p>No witness has signed the transcript.</p>
{{end}}

{{end}}
<h2>8. Verification</h2>
<table>
<thead><tr><th>#</th><th>Check</th><th>Result</th><th>Detail</th></tr></thead>
<tbody>
{{range .Checks}}<tr{{if not .OK}} class="fail"{{end}}><td>{{.N}}</td><td class="name">{{.Name}}</td><td class="name">{{if .OK}}pass{{else if .First}}✗ FAIL (the first failure){{else}}✗ FAIL{{end}}</td><td>{{.Detail}}</td></tr>
{{end}}</tbody>
</table>

<h2>Sign-off</h2>
<table class="sign">
<thead><tr><th>Name</th><th>Role</th><th>Signature</th><th>Date and time</th></tr></thead>
<tbody><tr><td></td><td></td><td></td><td></td></tr><tr><td></td><td></td><td></td><td></td></tr><tr><td></td><td></td><td></td><td></td></tr></tbody>
</table>
</body>
</html>
{{define "block"}}<div class="card{{if .Warn}} warn{{end}}{{if .Half}} half{{end}}"><h3>{{if .Warn}}⚠ {{end}}{{.Title}}</h3>
<table class="kv">
{{range .Facts}}<tr{{if .Warn}} class="warn"{{end}}><th scope="row">{{.Label}}</th><td>{{if .Pairs}}<div class="fp">{{range .Pairs}}<span><span class="mono">{{.Hex}}</span> <i>{{.Words}}</i></span> {{end}}</div>
{{else if .Mono}}<span class="mono">{{.Value}}</span>{{else}}{{.Value}}{{end}}</td></tr>
{{end}}</table>
</div>
{{end}}`
