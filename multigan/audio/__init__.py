"""Audio data for multigan: file I/O, a checked folder dataset and spectral features.

``multigan.audio.features`` (torchaudio) is not imported here; import it where it is needed.
"""

from .dataset import AudioFolder
from .io import AudioFileError, info, load_audio, save_wav, save_wavs
from .listing import AUDIO_EXTENSIONS, AudioDatasetError, audio_files

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioDatasetError",
    "AudioFileError",
    "AudioFolder",
    "audio_files",
    "info",
    "load_audio",
    "save_wav",
    "save_wavs",
]
