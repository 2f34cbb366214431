"""The answer stage's learned and numeric parts: numbers in any notation, answerability."""
