# QueueCount and the triggers that keep it (see review/models_queue.py and
# review/services/queue_counts.py, which also reinstalls them after every migrate).

from django.db import migrations, models


def install(apps, schema_editor):
    from review.services.queue_counts import install_and_recount

    install_and_recount(using=schema_editor.connection.alias)


def uninstall(apps, schema_editor):
    from review.services.queue_counts import drop_triggers

    drop_triggers(using=schema_editor.connection.alias)


class Migration(migrations.Migration):

    dependencies = [
        ("annotator", "0007_dataset_licence_sample_status_changed_at"),
        ("review", "0008_exportjob"),
    ]

    operations = [
        migrations.CreateModel(
            name="QueueCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("dataset_id", models.BigIntegerField()),
                ("status", models.CharField(max_length=16)),
                ("source", models.CharField(blank=True, max_length=64)),
                ("suggested_emotion", models.CharField(blank=True, max_length=64)),
                ("human_check", models.BooleanField()),
                ("gold", models.BooleanField()),
                ("n", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(install, uninstall),
    ]
