from django.db import migrations

from annotator.taxonomy import MIKELS_8, MIKELS_8_LABELS


def seed(apps, schema_editor):
    Taxonomy = apps.get_model("annotator", "Taxonomy")
    Taxonomy.objects.get_or_create(
        name=MIKELS_8,
        defaults={
            "labels": MIKELS_8_LABELS,
            "description": "Mikels et al. (2005): four positive, four negative emotions.",
        },
    )


class Migration(migrations.Migration):
    dependencies = [("annotator", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
