package bench

import (
	"image/color"
	"math"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// bars is a grouped bar chart drawn by hand, so that a bar on a log scale
// starts at the axis' minimum rather than at 0: vals[g][s] is series s
// (a target, in its colour) in group g (an x tick). With only, each
// group shows its own series alone, centred (one bar per target).
type bars struct {
	vals   [][]float64
	series int
	only   bool
}

// barWidth is the width of one bar in x units (a group is 1 wide).
func (b *bars) barWidth() float64 {
	if b.only {
		return 0.6
	}
	return 0.8 / float64(b.series)
}

// log reports whether the positive values span more than a factor of 10.
func (b *bars) log() bool {
	lo, hi := b.span()
	return lo > 0 && hi/lo > 10
}

// span returns the least positive and the greatest value.
func (b *bars) span() (lo, hi float64) {
	lo = math.Inf(1)
	for _, row := range b.vals {
		for _, v := range row {
			if v > 0 {
				lo = min(lo, v)
			}
			hi = max(hi, v)
		}
	}
	if math.IsInf(lo, 1) {
		lo = 0
	}
	return lo, hi
}

// DataRange implements plot.DataRanger, with room above the bars for
// their labels and half a group on each side.
func (b *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	lo, hi := b.span()
	if hi <= 0 {
		hi = 1
	}
	if b.log() {
		return -0.5, float64(len(b.vals)) - 0.5, lo / 2, hi * 4
	}
	return -0.5, float64(len(b.vals)) - 0.5, 0, hi * 1.2
}

// Plot implements plot.Plotter.
func (b *bars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	base := trY(p.Y.Min)
	w := b.barWidth()
	label := p.X.Tick.Label
	label.XAlign, label.YAlign, label.Rotation = draw.XCenter, draw.YBottom, 0
	label.Font.Size = vg.Points(7)
	for g, row := range b.vals {
		for s, v := range row {
			if b.only && s != g || v <= 0 {
				continue
			}
			x := float64(g)
			if !b.only {
				x += (float64(s) - float64(b.series-1)/2) * w
			}
			x0, x1, top := trX(x-w/2), trX(x+w/2), trY(v)
			c.FillPolygon(targetColor(s), c.ClipPolygonY([]vg.Point{{X: x0, Y: base}, {X: x1, Y: base}, {X: x1, Y: top}, {X: x0, Y: top}}))
			c.FillText(label, vg.Point{X: (x0 + x1) / 2, Y: top + vg.Points(2)}, short(v))
		}
	}
}

// save draws b with one legend entry per series and x ticks named
// groups, width wide, as dir/name.
func (b *bars) save(dir, name, title, unit string, groups, series []string, width vg.Length) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	p.Add(b)
	if b.log() {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = shortTicks{plot.LogTicks{Prec: -1}}
		p.Y.Label.Text = unit + " (log scale)"
	}
	if !b.log() {
		p.Y.Tick.Marker = shortTicks{plot.DefaultTicks{}}
	}
	p.NominalX(groups...)
	p.X.Tick.Label.Rotation = 0
	for s, name := range series {
		bc, err := plotter.NewBarChart(plotter.Values{1}, vg.Points(8))
		if err != nil {
			return err
		}
		bc.Color = targetColor(s)
		bc.LineStyle.Width = 0
		p.Legend.Add(name, bc)
	}
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.XOffs = -vg.Points(4)
	p.X.Padding, p.Y.Padding = vg.Points(8), vg.Points(4)
	return p.Save(width, 3.8*vg.Inch, filepath.Join(dir, name))
}

// shortTicks labels the ticks of its Ticker with short.
type shortTicks struct{ plot.Ticker }

// Ticks implements plot.Ticker.
func (t shortTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := t.Ticker.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = short(ticks[i].Value)
		}
	}
	return ticks
}

// targetColor is series s's colour.
func targetColor(s int) color.Color { return plotutil.Color(s) }

// short formats v with about three significant digits, with a k or M
// suffix from a thousand up.
func short(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', digits(v/1e6), 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', digits(v/1e3), 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', digits(v), 64)
}

// digits is how many decimals give v (under 1000) three significant
// digits, two at most.
func digits(v float64) int {
	switch {
	case v >= 100:
		return 0
	case v >= 10:
		return 1
	}
	return 2
}
