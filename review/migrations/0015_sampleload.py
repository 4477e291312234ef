# SampleLoad and the triggers that keep it (see review/models_queue.py and
# review/services/sample_loads.py, which also reinstalls them after every migrate).

from django.db import migrations, models


def install(apps, schema_editor):
    from review.services.sample_loads import install_and_recount

    install_and_recount(using=schema_editor.connection.alias)


def uninstall(apps, schema_editor):
    from review.services.sample_loads import drop_triggers

    drop_triggers(using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0014_annotation_by_user_sample"),
    ]

    operations = [
        migrations.CreateModel(
            name="SampleLoad",
            fields=[
                ("sample_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("dataset_id", models.BigIntegerField()),
                ("n", models.IntegerField()),
                ("answers", models.IntegerField()),
                ("disputed", models.BooleanField()),
                ("open", models.BooleanField()),
                ("gold", models.BooleanField()),
            ],
            options={
                "indexes": [
                    models.Index(
                        condition=models.Q(("disputed", True)),
                        fields=["dataset_id"],
                        name="sampleload_disputed",
                    ),
                    models.Index(
                        condition=models.Q(("open", True)),
                        fields=["dataset_id"],
                        name="sampleload_open",
                    ),
                ],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
