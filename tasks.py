"""The SQLite → PostgreSQL cutover runbook (docs/runbook.md), one task per step.

Read ``invoke --list`` by its [tags]: [rehearsal N] is the staging rehearsal (``rehearse`` runs
all of it), [cutover N] the production window (``cutover`` runs all of it), [online N] the
online cutover's steps (``cutover --online`` is its window), [rollback] the way back, [dev]
a developer's local setup. ``invoke --help TASK`` documents every flag.
The tasks live in ``backend/runbook/``; this file only builds the namespace.
"""

from invoke import Collection

from runbook import (
    capture_start,
    capture_stop,
    catch_up,
    cutover,
    dev,
    flip,
    freeze,
    migrate,
    monitor,
    point_api,
    precopy,
    proxy,
    rehearse,
    rollback,
    schema,
    smoke,
    snapshot,
    verify_uploads,
)

namespace = Collection(
    # staging rehearsal, in runbook order
    rehearse.rehearse, proxy.proxy, schema.schema, migrate.migrate, point_api.point_api,
    smoke.smoke,
    # production cutover, in runbook order
    cutover.cutover, freeze.freeze, flip.flip, verify_uploads.verify_uploads, freeze.unfreeze,
    monitor.monitor,
    # online cutover (window of seconds): capture, pre-copy, catch-up, then cutover --online
    capture_start.capture_start, precopy.precopy, catch_up.catch_up, capture_stop.capture_stop,
    # rollback
    snapshot.snapshot, rollback.rollback,
    # developer setup
    dev.dev, dev.dev_pg, dev.stop_api,
)
namespace.configure({"runbook": {}})
