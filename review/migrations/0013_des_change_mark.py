# The DES change mark and the triggers that keep it (review/services/des_map_changes.py): the
# DES map's staleness check reads it instead of every sample. Plain SQL, no model.

from django.db import migrations


def install(apps, schema_editor):
    from review.services.des_map_changes import install

    install(using=schema_editor.connection.alias)


def uninstall(apps, schema_editor):
    from review.services.des_map_changes import uninstall

    uninstall(using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0010_sample_status_index"),
        ("review", "0012_assignment_active"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
