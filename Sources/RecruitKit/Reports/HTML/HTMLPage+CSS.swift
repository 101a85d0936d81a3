extension HTMLPage {
    /// The page's only style sheet, inline. System fonts only: nothing is fetched.
    static let css = """

        :root { --ink: #1d232b; --muted: #5a6472; --line: #d5dae1; --accent: #1f5fa8; --accent-soft: #e8f0fa;
          --c1: #1f5fa8; --c2: #d0661a; --c3: #1d8a6b; --c4: #7a4fb0; }
        * { box-sizing: border-box; }
        html { -webkit-text-size-adjust: 100%; }
        body { margin: 0 auto; max-width: 980px; padding: 16px 20px 40px; color: var(--ink); background: #fff;
          font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
        h1 { font-size: 1.7rem; line-height: 1.2; margin: 0.1em 0 0.4em; }
        h2 { font-size: 1.35rem; margin: 1.8em 0 0.4em; padding-top: 0.6em; border-top: 2px solid var(--line); }
        h3 { font-size: 1.05rem; margin: 1.4em 0 0.4em; }
        .kicker { margin: 0; color: var(--muted); font-size: 0.85rem; letter-spacing: 0.04em; text-transform: uppercase; }
        .lede { margin: 0 0 0.8em; color: var(--muted); }
        .explain { color: var(--muted); max-width: 46em; }
        .notice { padding: 10px 14px; border-left: 5px solid var(--accent); background: var(--accent-soft); border-radius: 4px; }
        .notice.danger { border-color: #b3261e; background: #fbe9e7; }
        nav { margin: 12px 0 0; font-size: 0.95rem; }
        nav a { color: var(--accent); }
        .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; margin-top: 18px; }
        .card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
        .card-title { font-size: 0.85rem; color: var(--muted); }
        .card-value { font-size: 1.7rem; font-weight: 700; line-height: 1.2; }
        .card-note { font-size: 0.8rem; color: var(--muted); }
        .empty { grid-column: 1 / -1; padding: 10px 14px; background: #fff6e0; border-left: 5px solid #c98a00; border-radius: 4px; }
        figure { margin: 12px 0; break-inside: avoid; page-break-inside: avoid; }
        svg.chart { display: block; width: 100%; max-width: 600px; height: auto; }
        svg.flow { max-width: 560px; }
        .legend { font-size: 0.85rem; color: var(--muted); margin: 4px 0 0; }
        .legend .key { font-weight: 700; color: var(--ink); }
        .panels { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px 24px; }
        .panels svg.panel { width: 100%; max-width: 420px; }
        @media (max-width: 700px) {
          body { padding: 12px 12px 32px; }
          h1 { font-size: 1.4rem; }
          .panels { grid-template-columns: minmax(0, 1fr); }
        }
        .scroll { overflow-x: auto; }
        table { border-collapse: collapse; font-size: 0.9rem; margin: 8px 0; }
        th, td { padding: 4px 10px 4px 0; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
        th { font-weight: 600; border-bottom: 2px solid var(--line); }
        .num { text-align: right; font-variant-numeric: tabular-nums; padding-left: 10px; }
        tr.total td { font-weight: 700; border-top: 2px solid var(--line); }
        tr.note td { color: var(--muted); font-size: 0.85rem; }
        .sub { font-weight: 400; color: var(--muted); font-size: 0.8rem; white-space: nowrap; }
        .nowrap { white-space: nowrap; }
        .hash { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.8rem; color: var(--muted); }
        .consort ul { list-style: none; margin: 0; padding-left: 22px; border-left: 2px solid var(--line); }
        .consort > ul { padding-left: 0; border-left: none; margin-bottom: 10px; }
        .consort li { margin: 4px 0; break-inside: avoid; page-break-inside: avoid; }
        .fbox { display: inline-block; border: 1.3px solid #4a5563; border-radius: 4px; padding: 2px 10px; background: #fff; }
        .consort > ul > li > .fbox { background: var(--accent-soft); border-color: var(--accent); }
        .consort ul.referrals > li > .fbox { background: #fdf1e7; border-color: var(--c2); }
        .consort ul.consent > li > .fbox { background: #e7f5ef; border-color: var(--c3); font-weight: 600; }
        .fcount { font-weight: 700; font-variant-numeric: tabular-nums; margin-left: 6px; }
        /* SVG */
        .flow .step rect { fill: #fff; stroke: #4a5563; stroke-width: 1.3; }
        .flow .step.first rect { fill: #f3f5f8; }
        .flow .step.last rect { fill: var(--accent-soft); stroke: var(--accent); stroke-width: 2; }
        .flow .removed rect { fill: #f6f7f9; stroke: #9aa3af; stroke-dasharray: 4 3; }
        .flow .arrow { stroke: #4a5563; stroke-width: 1.4; }
        .step-label { fill: var(--ink); }
        .step-count { font-weight: 700; fill: var(--ink); }
        .step.last .step-count { fill: var(--accent); }
        .step-note { fill: var(--accent); }
        .removed-count { fill: #3d4552; }
        .axis-title, .panel-title { font-weight: 600; fill: var(--ink); }
        .panel-title { font-size: 14px; }
        .tick { fill: var(--muted); font-size: 11px; }
        .grid { stroke: #e6e9ee; stroke-width: 1; }
        .axis { stroke: #8a94a3; stroke-width: 1; }
        .band { fill: #f5f7fa; }
        .practice-label { fill: var(--ink); }
        .bar { fill: var(--c1); }
        .bar.c2 { fill: var(--c2); } .bar.c3 { fill: var(--c3); } .bar.c4 { fill: var(--c4); }
        .reason-bar { fill: var(--c2); }
        .stem { stroke: #b8c2d0; stroke-width: 1.2; }
        .dot { fill: var(--c1); }
        .value { fill: var(--ink); }
        .bar-label { font-weight: 600; fill: var(--ink); }
        .zero { stroke: var(--ink); stroke-width: 1.5; }
        .suppressed { stroke: #8a94a3; stroke-width: 0.8; }
        .not-shown { fill: #8a94a3; font-style: italic; }
        .overall { stroke: var(--c2); stroke-width: 1.6; stroke-dasharray: 5 3; }
        .overall-label { fill: var(--c2); font-weight: 600; }
        @media print {
          body { max-width: none; padding: 0; font-size: 11pt; }
          nav { display: none; }
          h2 { break-after: avoid; page-break-after: avoid; }
          .scroll { overflow: visible; }
          a { color: inherit; text-decoration: none; }
          @page { margin: 14mm; }
        }

        """
}
