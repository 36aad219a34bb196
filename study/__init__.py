"""The machinery behind compare.py: lock-step training, statistics, tables and figures.

The flow of a study:

    compare.py -> running -> training -> lockstep -> original_net.py, broken_net.py
                                   -> cluster (a Dask cluster's workers)
                          -> tables -> verdicts (the statistics)
                          -> report (tables as text, markdown, csv, json), figures
    make_report.py runs compare.py's studies as processes, ships their runs (shipped:
    REPORT-runs.csv.gz), then reproduction reads them back (saved_reports, tables) into
    REPORT.json and the figures, and narrative into REPORT.md and README.md's findings.

What each module holds:

    registry       the nets, the experiments (dense heads) and the digit pairs
    records        a run (Run), a block of seeds (Seeds), saved reports' fields checked
    cli            argument types, the one-line error and the exit statuses
    files          reports and figures written whole or not at all
    cpus           the environment, and settings that compute as another CPU would
    alignment      how far a broken gradient points from the true one
    interventions  correct learners given the broken net's error (matched noise, scaled)
    lockstep       many runs trained at once, bit for bit as the nets train alone
    training       the runs planned and batched, trained on processes or a cluster
    cluster        a Dask cluster: checked, connected, its tasks run and watched
    verdicts       the article's claims judged, and the nets compared
    coverage       the pooled intervals' coverage, measured (python3 -m study.coverage)
    report         the tables of a study, as text, markdown, csv or json
    figures        its figures
    tables         a study's tables from its runs
    saved_reports  saved reports read and checked, side by side and pooled
    shipped        the runs behind REPORT.md, shipped beside it: written and read back
    running        a study run from compare.py's command line
    reproduction   the reproduction report's numbers, from make_report.py's shipped runs
    narrative      REPORT.md and README.md's findings, in words, from those numbers

Where to add:
- a claim of the article: verdicts.CLAIMS (its test and its words);
- a net: one entry in registry.NETS; a broken line the nets do not have yet also needs
  its lines in broken_net.py and in lockstep.Batch, another intervention its arithmetic
  in interventions.redirected;
- an experiment (a dense head) or a digit pair: registry.EXPERIMENTS or registry.PAIRS.

Imports go one way, down these floors (tests/test_layout.py checks it):

    5  compare.py, make_report.py
    4  running, reproduction, narrative
    3  training, tables, saved_reports, coverage
    2  lockstep, report, cluster, shipped
    1  alignment, interventions, records, verdicts, files, figures, digits_4samples.py
    0  registry, cli, cpus, original_net.py, broken_net.py
"""
