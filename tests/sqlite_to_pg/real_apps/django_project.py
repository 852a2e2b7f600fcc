"""A Django project that no one here wrote the schema of: the contrib apps and a model app with
every built-in field type. Written to a directory by ``write_project``; driven by
``python -m driver COMMAND`` there, once per database (settings from the environment).

Commands: ``create`` (objects of every model), ``dump`` (every object of every model, read back
through the ORM, as JSON on stdout), ``add`` (one more object of every model).
"""

from __future__ import annotations

from pathlib import Path

SETTINGS = '''
import os
SECRET_KEY = "not-a-secret"
USE_TZ = True
TIME_ZONE = "Europe/Berlin"
INSTALLED_APPS = ["django.contrib.admin", "django.contrib.auth",
                  "django.contrib.contenttypes", "django.contrib.sessions",
                  "django.contrib.messages", "inventory"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware",
              "django.contrib.auth.middleware.AuthenticationMiddleware",
              "django.contrib.messages.middleware.MessageMiddleware"]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": [
                  "django.template.context_processors.request",
                  "django.contrib.auth.context_processors.auth",
                  "django.contrib.messages.context_processors.messages"]}}]
if os.environ.get("TEST_PG_NAME"):
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql",
                             "NAME": os.environ["TEST_PG_NAME"],
                             "USER": os.environ["TEST_PG_USER"],
                             "HOST": os.environ["TEST_PG_HOST"],
                             "PORT": os.environ["TEST_PG_PORT"],
                             "PASSWORD": os.environ.get("TEST_PG_PASSWORD", "")}}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                             "NAME": os.environ["TEST_SQLITE_PATH"]}}
'''

MODELS = '''
import uuid
from django.db import models
from django.db.models import F


class Category(models.Model):
    name = models.CharField(max_length=50, unique=True)
    slug = models.SlugField()
    parent = models.ForeignKey("self", null=True, on_delete=models.CASCADE)


class Everything(models.Model):
    big = models.BigIntegerField()
    small = models.SmallIntegerField()
    number = models.IntegerField()
    positive = models.PositiveIntegerField()
    positive_small = models.PositiveSmallIntegerField()
    positive_big = models.PositiveBigIntegerField()
    flag = models.BooleanField()
    maybe = models.BooleanField(null=True)
    title = models.CharField(max_length=40)
    body = models.TextField()
    email = models.EmailField()
    url = models.URLField()
    file = models.FileField(upload_to="up")
    path = models.FilePathField(path="/tmp")
    day = models.DateField()
    moment = models.DateTimeField()
    clock = models.TimeField()
    took = models.DurationField()
    price = models.DecimalField(max_digits=12, decimal_places=4)
    ratio = models.FloatField()
    ip = models.GenericIPAddressField()
    ipv4 = models.GenericIPAddressField(protocol="IPv4", null=True)
    key = models.UUIDField(default=uuid.uuid4, unique=True)
    data = models.JSONField()
    blob = models.BinaryField()
    category = models.ForeignKey(Category, on_delete=models.PROTECT)
    total = models.GeneratedField(expression=F("number") + F("small"),
                                  output_field=models.BigIntegerField(), db_persist=True)
    tags = models.ManyToManyField(Category, related_name="tagged")


class Profile(models.Model):
    id = models.SmallAutoField(primary_key=True)
    user = models.OneToOneField("auth.User", on_delete=models.CASCADE)
    thing = models.OneToOneField(Everything, null=True, on_delete=models.SET_NULL)
'''

DRIVER = '''
import datetime as dt
import json
import sys
import uuid
from decimal import Decimal

import django

django.setup()

from django.apps import apps
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.db import SessionStore

from inventory.models import Category, Everything, Profile

UTC = dt.timezone.utc


def everything(i, category, **changes):
    values = dict(
        big=-(2**62) + i, small=-32768 + i, number=2**31 - 1 - i, positive=i,
        positive_small=32767, positive_big=2**63 - 1 - i, flag=bool(i % 2),
        maybe=[None, True, False][i % 3], title=f"t\\\\itle {i}\\t\\u00e9\\U0001F600",
        body="line\\nnext\\r\\nback\\\\slash " * i, email=f"a{i}@example.org",
        url=f"https://example.org/{i}?q=1", file=f"up/{i}.txt", path=f"/tmp/{i}",
        day=dt.date(1999, 12, 31) + dt.timedelta(days=i),
        moment=dt.datetime(2024, 3, 31, 1, 30, 0, i, tzinfo=UTC) + dt.timedelta(hours=i),
        clock=dt.time(23, 59, 59, i * 1000 if i % 2 else 0),
        took=[dt.timedelta(days=3, seconds=5, microseconds=7), dt.timedelta(microseconds=-1),
              dt.timedelta(0), dt.timedelta(days=-400, hours=5)][i % 4],
        price=Decimal("12345678.1234") if i % 2 else Decimal(f"-0.{i:04d}"),
        ratio=[0.1, -1e300, 5e-324, 1 / 3][i % 4],
        ip=["192.0.2.1", "2001:db8::1", "::ffff:198.51.100.7", "fe80::1:2"][i % 4],
        ipv4=None if i % 2 else "10.0.0.1",
        key=uuid.UUID(int=i * 2**100 + i),
        data={"i": i, "nested": [1, 2.5, "x\\ny", None, True, {"\\u00e9": []}]},
        blob=bytes(range(256)) if i % 2 else b"", category=category)
    values.update(changes)
    return Everything.objects.create(**values)


def create():
    root = Category.objects.create(name="root", slug="root")
    child = Category.objects.create(name="child", slug="child", parent=root)
    things = [everything(i, [root, child][i % 2]) for i in range(1, 9)]
    things[0].tags.set([root, child])
    things[1].tags.set([child])
    admin = User.objects.create_superuser("admin", "admin@example.org", "pw",
                                          first_name="\\u00c4rger")
    staff = User.objects.create_user("staff", "staff@example.org", "pw2", is_staff=True)
    group = Group.objects.create(name="editors")
    group.permissions.set(Permission.objects.filter(codename__endswith="_everything"))
    staff.groups.add(group)
    staff.user_permissions.add(Permission.objects.get(codename="view_category"))
    Profile.objects.create(user=admin, thing=things[2])
    Profile.objects.create(user=staff)
    session = SessionStore()
    session["user"] = staff.pk
    session.create()
    LogEntry.objects.log_actions(admin.pk, [things[0]], ADDITION, change_message="made")


def plain(value):
    if isinstance(value, (memoryview, bytes)):
        return "bytes:" + bytes(value).hex()
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return type(value).__name__ + ":" + value.isoformat()
    if isinstance(value, (dt.timedelta, Decimal, uuid.UUID, float)):
        return type(value).__name__ + ":" + repr(value)
    return value


def dump():
    out = {}
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields]
        rows = []
        for obj in model.objects.order_by("pk"):
            row = {f.attname: plain(getattr(obj, f.attname)) for f in fields}
            for m2m in model._meta.many_to_many:
                row[m2m.name] = sorted(getattr(obj, m2m.name).values_list("pk", flat=True))
            rows.append(row)
        out[model._meta.label] = rows
    json.dump(out, sys.stdout, sort_keys=True, default=lambda v: f"{type(v).__name__}:{v}")


def add():
    category = Category.objects.create(name="new", slug="new")
    thing = everything(99, category)
    thing.tags.add(category)
    user = User.objects.create_user("new", "new@example.org", "pw3")
    user.groups.add(Group.objects.create(name="new"))
    Profile.objects.create(user=user, thing=thing)
    ContentType.objects.create(app_label="extra", model="extra")
    Permission.objects.create(codename="extra", name="extra",
                              content_type=ContentType.objects.get(model="extra"))
    SessionStore().create()
    LogEntry.objects.log_actions(user.pk, [thing], ADDITION)
    print(json.dumps({m._meta.label: m.objects.count() for m in apps.get_models()}))


{"create": create, "dump": dump, "add": add}[sys.argv[1]]()
'''


def write_project(directory: Path) -> Path:
    """Write the project (settings, the ``inventory`` app, the driver) into ``directory``."""
    app = directory / "inventory"
    (app / "migrations").mkdir(parents=True)
    (directory / "settings.py").write_text(SETTINGS)
    (directory / "driver.py").write_text(DRIVER)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    (app / "models.py").write_text(MODELS)
    return directory
