"""Dataset file helpers: checksums, downloads with clear failures, and archive extraction that cannot write
outside its target folder."""
import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request

__all__ = ["calculate_md5", "check_integrity", "download_url", "extract_archive"]

USER_AGENT = "ember-vision"


def calculate_md5(fpath, chunk_size=1024 * 1024):
    md5 = hashlib.md5(usedforsecurity=False)  # an integrity check, not security
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            md5.update(chunk)
    return md5.hexdigest()


def check_integrity(fpath, md5=None):
    """Whether fpath exists and (when md5 is given) has that MD5."""
    if not os.path.isfile(fpath):
        return False
    return md5 is None or calculate_md5(fpath) == md5


def download_url(url, root, filename=None, md5=None, timeout=30):
    """Downloads url to root/filename (atomically: a partial download never takes the final name) and checks its
    MD5. Raises the urllib/OS error when the network is unreachable, RuntimeError on a checksum mismatch."""
    root = os.path.expanduser(root)
    filename = filename or os.path.basename(url)
    fpath = os.path.join(root, filename)
    if check_integrity(fpath, md5):
        return fpath
    os.makedirs(root, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    fd, tmp = tempfile.mkstemp(dir=root, prefix="." + filename, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            shutil.copyfileobj(response, out, 1024 * 1024)
        if md5 is not None and calculate_md5(tmp) != md5:
            raise RuntimeError("File downloaded from %s does not have the expected MD5 %s (corrupted or changed "
                               "upstream)" % (url, md5))
        os.replace(tmp, fpath)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return fpath


def _inside(base, target):
    base = os.path.realpath(base)
    return os.path.commonpath([base, os.path.realpath(target)]) == base


def extract_archive(from_path, to_path=None):
    """Extracts a .tar/.tar.gz/.tgz (regular files and folders only, every path inside to_path) or
    decompresses a .gz file next to it. Returns to_path."""
    to_path = to_path or os.path.dirname(from_path)
    if from_path.endswith((".tar", ".tar.gz", ".tgz")):
        with tarfile.open(from_path, "r:*") as tar:
            for member in tar.getmembers():
                target = os.path.join(to_path, member.name)
                if os.path.isabs(member.name) or not _inside(to_path, target):
                    raise RuntimeError("refusing to extract %r from %s: it points outside %s"
                                       % (member.name, from_path, to_path))
                if member.isdir():
                    os.makedirs(target, exist_ok=True)
                elif member.isfile():
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with tar.extractfile(member) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                else:
                    raise RuntimeError("refusing to extract %r from %s: only regular files and folders are allowed"
                                       % (member.name, from_path))
        return to_path
    if from_path.endswith(".gz"):
        out = os.path.join(to_path, os.path.basename(from_path)[:-3])
        with gzip.open(from_path, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
        return to_path
    raise ValueError("unsupported archive type: %s" % from_path)


def download_error(what, urls, folder, errors):
    """The RuntimeError raised when a download fails: which URLs were tried, why, and where to put the files
    by hand."""
    tried = "\n".join("  %s: %s" % (u, e) for u, e in zip(urls, errors))
    return RuntimeError("Could not download %s. Tried:\n%s\nWithout network access, download the file(s) on "
                        "another machine and place them in %s" % (what, tried, folder))


NETWORK_ERRORS = (urllib.error.URLError, OSError, TimeoutError)
