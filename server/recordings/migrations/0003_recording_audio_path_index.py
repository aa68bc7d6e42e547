"""Index Recording.audio_path: uploads, the speech-muted replacement and the orphan sweeper ask which
recordings reference a stored file (``blob_refs.referenced``)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('recordings', '0002_recording_session_nonce_and_more'),
    ]

    operations = [
        migrations.AlterField(
            model_name='recording',
            name='audio_path',
            field=models.CharField(db_index=True, help_text='stored file (the speech-muted copy if muted)', max_length=200),
        ),
    ]
