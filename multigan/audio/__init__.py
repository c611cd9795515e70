"""Audio data for multigan: file I/O, a checked folder dataset and spectral features.

``multigan.audio.features`` (torchaudio) is not imported here; import it where it is needed.
"""

from .dataset import AUDIO_EXTENSIONS, AudioDatasetError, AudioFolder, audio_files
from .io import AudioFileError, info, load_audio, save_wav, save_wavs

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
